import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { dataSourceOptions } from './data-source.js';
import { ensureMigrated } from './migrations.js';

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        ...dataSourceOptions(config.database.url, config.database.poolSize),
        // A wrong URL or an unmigrated schema is a configuration problem: fail at once, loudly.
        retryAttempts: 0,
      }),
      dataSourceFactory: async (options) => {
        const dataSource = new DataSource(options!);
        try {
          await dataSource.initialize();
        } catch (error) {
          throw new Error(`Cannot connect to PostgreSQL (DATABASE_URL): ${(error as Error).message}`);
        }
        return dataSource;
      },
    }),
  ],
  providers: [
    {
      provide: 'SCHEMA_CHECK',
      inject: [DataSource, APP_CONFIG],
      useFactory: async (dataSource: DataSource, config: AppConfig) => ensureMigrated(dataSource, config.database.migrate),
    },
  ],
  exports: ['SCHEMA_CHECK'],
})
export class DatabaseModule {}
