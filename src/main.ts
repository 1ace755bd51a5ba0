import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from '@nestjs/common';
import { AppModule } from './app.module.js';
import { type AppConfig, loadConfig, type ProcessRole } from './config/app-config.js';
import { createHttpApp } from './http/http-app.js';
import { createRootLogger, NestPinoLogger } from './observability/logging.js';

/**
 * One build, three ways to run it:
 *   node dist/src/main.js api     HTTP only
 *   node dist/src/main.js worker  BullMQ workers and the outbox sweeper, no HTTP
 *   node dist/src/main.js all     both in one process (development)
 */
const ROLES: readonly ProcessRole[] = ['api', 'worker', 'all'];

async function start(): Promise<void> {
  const role = (process.argv[2] ?? 'all') as ProcessRole;
  if (!ROLES.includes(role)) throw new Error(`Unknown role "${role}": use api, worker or all`);
  const config = loadConfig(process.env, role);
  armShutdownDeadline(config);

  if (role === 'worker') {
    const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), {
      logger: new NestPinoLogger(createRootLogger(config)),
    });
    app.enableShutdownHooks();
    await app.init();
    new Logger('Main').log({ role }, 'tokex worker started');
    return;
  }
  const app = await createHttpApp(config);
  await app.listen({ port: config.http.port, host: config.http.host });
  new Logger('Main').log({ role, url: await app.getUrl() }, 'tokex listening');
}

/** If a graceful shutdown takes longer than SHUTDOWN_TIMEOUT_MS, stop anyway. */
function armShutdownDeadline(config: AppConfig): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      setTimeout(() => {
        console.error(`shutdown took longer than ${config.shutdownTimeoutMs} ms; exiting`);
        process.exit(1);
      }, config.shutdownTimeoutMs).unref();
    });
  }
}

start().catch((error: unknown) => {
  console.error(`tokex failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
