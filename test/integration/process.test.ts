import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { UnmigratedDatabaseError } from '../../src/platform/database/migrations.js';
import { spawnService } from '../support/child-service.js';
import { type OwnDatabase, ownDatabase } from '../support/own-database.js';
import { startTestApp, TEST_DATABASE_URL, TEST_REDIS_URL } from '../support/test-app.js';

const serviceEnv = {
  DATABASE_URL: TEST_DATABASE_URL,
  REDIS_URL: TEST_REDIS_URL,
  QUEUE_PREFIX: 'process-test',
  DB_MIGRATE: 'true',
  LOG_HTTP_REQUESTS: 'false',
};

describe('start-up', () => {
  let empty: OwnDatabase;
  beforeAll(async () => {
    empty = await ownDatabase('unmigrated');
  });
  afterAll(async () => {
    await empty.drop();
  });

  test('the service refuses an unmigrated database, naming the migrations and the fix', async () => {
    const attempt = startTestApp({ DATABASE_URL: empty.url, DB_MIGRATE: 'false' });
    await expect(attempt).rejects.toThrow(UnmigratedDatabaseError);
    await expect(attempt).rejects.toThrow(/pending migration.*Foundation.*npm run migration:run.*DB_MIGRATE=true/);
  });

  test('a bad variable stops the process with a message naming it', async () => {
    const child = spawnService('api', { ...serviceEnv, PORT: 'eighty', RATE_LIMIT_PER_SECOND: '-1' });
    expect(await child.exited()).toBe(1);
    expect(child.output()).toMatch(/PORT/);
    expect(child.output()).toMatch(/RATE_LIMIT_PER_SECOND/);
  });

  test('an unknown role is refused', async () => {
    const child = spawnService('scheduler', serviceEnv);
    expect(await child.exited()).toBe(1);
    expect(child.output()).toContain('Unknown role "scheduler"');
  });
});

describe('graceful shutdown on SIGTERM', () => {
  test('the api role stops serving and exits 0', async () => {
    const child = spawnService('api', { ...serviceEnv, PORT: '0', HOST: '127.0.0.1' });
    const line = await child.waitForLine(/tokex listening/);
    const url = JSON.parse(line).url as string;
    expect((await fetch(`${url}/health`)).status).toBe(200);
    child.process.kill('SIGTERM');
    expect(await child.exited()).toBe(0);
  });

  test('the worker role finishes and exits 0', async () => {
    const child = spawnService('worker', serviceEnv);
    await child.waitForLine(/tokex worker started/);
    child.process.kill('SIGTERM');
    expect(await child.exited()).toBe(0);
  });
});
