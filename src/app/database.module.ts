import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { dataSourceOptions } from './data-source.js';

/** PostgreSQL through TypeORM. The schema was checked (or migrated) by `prepareSchema` before boot. */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        ...dataSourceOptions(config.database.url, config.database.poolSize),
        retryAttempts: 0, // a wrong URL is a configuration problem: fail at once, loudly
      }),
    }),
  ],
})
export class DatabaseModule {}
