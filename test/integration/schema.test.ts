import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { openTestDataSource } from '../support/database.js';

let dataSource: DataSource;
beforeAll(async () => {
  dataSource = await openTestDataSource(2);
});
afterAll(async () => {
  await dataSource.destroy();
});

test('the migrations build exactly the schema the entities describe (no drift)', async () => {
  const pending = await dataSource.driver.createSchemaBuilder().log();
  expect(pending.upQueries.map((q) => q.query)).toEqual([]);
});

test('synchronize is off: the schema changes only through migrations', () => {
  expect(dataSource.options.synchronize).toBe(false);
  expect(dataSource.options.migrationsRun).toBe(false);
});
