import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/app/data-source.js';
import { ensureMigrated } from '../../src/platform/database/migrations.js';
import { TEST_DATABASE_URL } from './test-app.js';

/** A migrated DataSource on the test database, for integration tests below the HTTP layer. */
export async function openTestDataSource(poolSize = 10): Promise<DataSource> {
  const dataSource = new DataSource(dataSourceOptions(TEST_DATABASE_URL, poolSize));
  await dataSource.initialize();
  await ensureMigrated(dataSource, true);
  return dataSource;
}
