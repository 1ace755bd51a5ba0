import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { WsAdapter } from '@nestjs/platform-ws';
import { Test } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import { DataSource } from 'typeorm';
import { AppModule } from '../../src/app/app.module.js';
import { beforeBoot } from '../../src/app/bootstrap.js';
import { loadConfig, type AppConfig, type ProcessRole } from '../../src/platform/config/app-config.js';
import { createHttpApp } from '../../src/app/http-app.js';
import { hardenHttpEdge } from '../../src/app/http-edge.js';
import { DEFAULT_BODY_LIMIT } from '../../src/platform/http/route-limits.js';
import { Clock } from '../../src/platform/clock/clock.js';
import { createRootLogger, NestPinoLogger } from '../../src/platform/observability/logging.js';

import { BOOTSTRAP_ADMIN_KEY, TEST_DATABASE_URL, TEST_REDIS_URL } from './test-env.js';

/** The real servers (never mocks); the defaults are the ones CI and the README use. */
export { BOOTSTRAP_ADMIN_KEY, TEST_DATABASE_URL, TEST_REDIS_URL };

export interface TestApp {
  readonly app: NestFastifyApplication;
  readonly config: AppConfig;
  readonly http: TestAgent;
  readonly dataSource: DataSource;
  readonly adminKey: string;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Replaces the app's Clock (a TestClock), so the test decides what time services see. */
  readonly clock?: Clock;
}

/**
 * Boots the real AppModule over HTTP (Fastify), on the test database and Redis. Each app gets its
 * own queue prefix so test files running side by side never see each other's jobs.
 */
export async function startTestApp(env: Record<string, string> = {}, role: ProcessRole = 'api', options: TestAppOptions = {}): Promise<TestApp> {
  const config = loadConfig(
    {
      NODE_ENV: 'test',
      DATABASE_URL: TEST_DATABASE_URL,
      DB_POOL_SIZE: '10',
      DB_MIGRATE: 'true',
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      BOOTSTRAP_ADMIN_KEY,
      RATE_LIMIT_PER_SECOND: '0',
      NODE_URLS_ALLOW_PRIVATE: 'true', // the tests' nodes listen on 127.0.0.1
      AUTH_FAILURES_PER_MINUTE: '0', // many tests present wrong keys on purpose, all from 127.0.0.1
      ...env,
    },
    role,
  );
  const app = options.clock ? await createClockedApp(config, options.clock) : await createHttpApp(config);
  try {
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  } catch (error) {
    // A start-up the test expects to fail must not leave its pools and connections open behind it.
    await app.close().catch(() => undefined);
    throw error;
  }
  return {
    app,
    config,
    http: request(app.getHttpServer()),
    dataSource: app.get(DataSource),
    adminKey: BOOTSTRAP_ADMIN_KEY,
    close: () => app.close(),
  };
}

/**
 * The AppModule with its Clock overridden (Nest's testing module), served by Fastify as
 * createHttpApp serves it, without what no clocked test needs: security headers, request-id and
 * latency hooks, and the OpenAPI document.
 */
async function createClockedApp(config: AppConfig, clock: Clock): Promise<NestFastifyApplication> {
  await beforeBoot(config);
  const logger = createRootLogger(config);
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
    .setLogger(new NestPinoLogger(logger))
    .overrideProvider(Clock)
    .useValue(clock)
    .compile();
  const adapter = new FastifyAdapter({ loggerInstance: logger, bodyLimit: DEFAULT_BODY_LIMIT, forceCloseConnections: 'idle' });
  const app = moduleRef.createNestApplication<NestFastifyApplication>(adapter, { logger: new NestPinoLogger(logger), rawBody: true });
  hardenHttpEdge(app);
  app.useWebSocketAdapter(new WsAdapter(app));
  return app;
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

export interface TestParticipant {
  readonly id: string;
  readonly key: string;
  readonly keyId: string;
}

let counter = 0;

/** A new participant with the given roles, created through the API by the admin. */
export async function createParticipant(t: TestApp, roles: string[], name = `participant ${++counter}`): Promise<TestParticipant> {
  const response = await t.http.post('/v1/participants').set(bearer(t.adminKey)).send({ name, roles }).expect(201);
  return { id: response.body.participant.id, key: response.body.apiKey.key, keyId: response.body.apiKey.id };
}

export async function deposit(t: TestApp, participantId: string, amount: string): Promise<void> {
  await t.http.post('/v1/admin/deposits').set(bearer(t.adminKey)).send({ participantId, amount }).expect(201);
}

export async function balancesOf(t: TestApp, participant: TestParticipant): Promise<Record<string, string>> {
  const response = await t.http.get('/v1/me').set(bearer(participant.key)).expect(200);
  return response.body.balances;
}

/** Rows in a table, to prove that a refused request wrote nothing. */
export async function countRows(t: TestApp, table: string): Promise<number> {
  const [{ count }] = await t.dataSource.query(`SELECT count(*)::int AS count FROM ${table}`);
  return count;
}
