import 'reflect-metadata';
import { type INestApplicationContext, Logger } from '@nestjs/common';
import { createWorkerContext } from './app/bootstrap.js';
import { type AppConfig, loadConfig, type ProcessRole } from './platform/config/app-config.js';
import { createHttpApp } from './app/http-app.js';

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
  const logger = new Logger('Main');

  if (role === 'worker') {
    const app = await createWorkerContext(config);
    await app.init();
    stopGracefully(app, config, logger);
    logger.log({ role }, 'tokex worker started');
    return;
  }
  const app = await createHttpApp(config);
  await app.listen({ port: config.http.port, host: config.http.host });
  stopGracefully(app, config, logger);
  logger.log({ role, url: await app.getUrl() }, 'tokex listening');
}

/**
 * On SIGTERM or SIGINT: stop taking requests, let in-flight requests and active jobs finish, close
 * the queues and connections, and exit 0. If that takes longer than SHUTDOWN_TIMEOUT_MS, exit 1.
 */
function stopGracefully(app: INestApplicationContext, config: AppConfig, logger: Logger): void {
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.log({ signal }, 'shutting down');
      setTimeout(() => {
        logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown took too long; exiting');
        process.exit(1);
      }, config.shutdownTimeoutMs).unref();
      app.close().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

start().catch((error: unknown) => {
  console.error(`tokex failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
