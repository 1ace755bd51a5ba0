import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { AppModule } from './app.module.js';
import type { AppConfig } from '../platform/config/app-config.js';
import { dataSourceOptions } from './data-source.js';
import { prepareSchema } from '../platform/database/migrations.js';
import { createRootLogger, NestPinoLogger } from '../platform/observability/logging.js';

/** Everything a process does before its modules boot, whatever its role. */
export async function beforeBoot(config: AppConfig): Promise<void> {
  await prepareSchema(dataSourceOptions(config.database.url), config.database.migrate);
}

/** The worker role: the application without HTTP; JobWorkers starts the queues' workers. */
export async function createWorkerContext(config: AppConfig, logger = createRootLogger(config)): Promise<INestApplicationContext> {
  await beforeBoot(config);
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), {
    logger: new NestPinoLogger(logger),
    abortOnError: false,
  });
  return app;
}
