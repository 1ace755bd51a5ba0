import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { type Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { createWorkerContext } from '../../src/app/bootstrap.js';
import { DomainError } from '../../src/common/domain-error.js';
import { loadConfig } from '../../src/platform/config/app-config.js';
import { jobIdOf } from '../../src/platform/jobs/job-definitions.js';
import type { JobHandler } from '../../src/platform/jobs/job-handler.js';
import { JobQueues } from '../../src/platform/jobs/job-queues.js';
import type { JobRegistry } from '../../src/platform/jobs/job-registry.js';
import { JobRunner } from '../../src/platform/jobs/job-runner.js';
import { Outbox } from '../../src/platform/jobs/outbox.js';
import { OutboxSweeper } from '../../src/platform/jobs/outbox-sweeper.js';
import { MetricsService } from '../../src/platform/observability/metrics.service.js';
import { type OwnDatabase, ownDatabase } from '../support/own-database.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait-for.js';

// This file flushes Redis, so it has a Redis database of its own.
const REDIS_URL = 'redis://127.0.0.1:6379/7';
const QUEUE_PREFIX = `jobs-${randomUUID().slice(0, 8)}`;
/** Its own database too: the ledger audits these jobs run read every account and transfer in it. */
let database: OwnDatabase;
let api: TestApp;
let redis: Redis;

beforeAll(async () => {
  database = await ownDatabase('jobs');
  api = await startTestApp({ DATABASE_URL: database.url, REDIS_URL, QUEUE_PREFIX, OUTBOX_REDISPATCH_AFTER_MS: '1000' });
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  await api.close();
  await redis.quit();
  await database.drop();
});

const outboxRow = async (key: string) =>
  (await api.dataSource.query(`SELECT status, attempts, dispatch_count, last_error FROM outbox WHERE job_key = $1`, [key]))[0];

async function addWork(key: string): Promise<void> {
  await api.dataSource.transaction((manager) => api.app.get(Outbox).add(manager, 'ledger.audit', key, { reason: 'test' }));
}

/** A worker process of the same build: an application context with no HTTP, as `start:worker` boots it. */
async function startWorker(env: Record<string, string> = {}) {
  const config = loadConfig(
    { DATABASE_URL: database.url, REDIS_URL, QUEUE_PREFIX, LOG_LEVEL: 'silent', OUTBOX_REDISPATCH_AFTER_MS: '1000', ...env },
    'worker',
  );
  const worker = await createWorkerContext(config);
  await worker.init();
  return worker;
}

describe('the outbox delivers work whatever Redis forgets', () => {
  test('work committed with its cause is enqueued under a deterministic id and marked done by the worker', async () => {
    const key = `happy-${randomUUID()}`;
    await addWork(key);
    await addWork(key); // the same work twice is one row
    expect((await api.dataSource.query(`SELECT count(*)::int AS n FROM outbox WHERE job_key = $1`, [key]))[0].n).toBe(1);
    const worker = await startWorker();
    try {
      const row = await waitFor('the outbox row to be done', async () => ((await outboxRow(key))?.status === 'done' ? outboxRow(key) : undefined));
      expect(row).toMatchObject({ status: 'done', attempts: 1, last_error: null });
      const job = await new Queue('ledger', { connection: redis, prefix: QUEUE_PREFIX }).getJob(jobIdOf('ledger.audit', key));
      expect(job?.name).toBe('ledger.audit');
    } finally {
      await worker.close();
    }
  });

  test('work rolled back with its cause never runs', async () => {
    const key = `rolled-back-${randomUUID()}`;
    await expect(
      api.dataSource.transaction(async (manager) => {
        await api.app.get(Outbox).add(manager, 'ledger.audit', key, { reason: 'test' });
        throw new Error('the cause failed');
      }),
    ).rejects.toThrow('the cause failed');
    expect(await outboxRow(key)).toBeUndefined();
  });

  test('a job Redis lost is delivered again by the sweeper and done exactly once', async () => {
    const key = `lost-${randomUUID()}`;
    await addWork(key);
    // No worker runs: the api's sweeper (started by hand here) hands the job to Redis...
    expect(await api.app.get(OutboxSweeper).sweepOnce()).toBeGreaterThanOrEqual(1);
    expect(await api.app.get(JobQueues).queue('ledger').getJob(jobIdOf('ledger.audit', key))).toBeDefined();
    // ...and Redis restarts empty.
    await redis.flushdb();
    expect(await api.app.get(JobQueues).queue('ledger').getJob(jobIdOf('ledger.audit', key))).toBeUndefined();

    const worker = await startWorker();
    try {
      const row = await waitFor('the lost job to be re-delivered and done', async () =>
        (await outboxRow(key))?.status === 'done' ? outboxRow(key) : undefined,
      );
      expect(row.dispatch_count).toBeGreaterThanOrEqual(2);
      expect(row.attempts).toBe(1);
    } finally {
      await worker.close();
    }
  });
});

describe('jobs never hold the whole database pool', () => {
  // Each ledger audit runs in its job's transaction and opens a snapshot transaction of its own:
  // two connections per job. With 8 jobs at once and a pool of 2, every connection would be held
  // by a job waiting for a second one, forever; job slots (half the pool) leave one free.
  test('a burst of jobs that each need a second connection all finish on a small pool, and the worker closes', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `burst-${i}-${randomUUID()}`);
    for (const key of keys) await addWork(key);
    const worker = await startWorker({ DB_POOL_SIZE: '2', WORKER_CONCURRENCY: '8' });
    try {
      await waitFor('every burst job to be done', async () => {
        const rows = await api.dataSource.query(`SELECT count(*)::int AS n FROM outbox WHERE job_key = ANY($1) AND status = 'done'`, [keys]);
        return rows[0].n === keys.length ? true : undefined;
      });
    } finally {
      await worker.close();
    }
  });
});

describe('job runs are idempotent, retried with backoff, and business rejections are final', () => {
  const fakeJob = (name: string, outboxId: string, attemptsMade = 0, attempts = 3) =>
    ({ id: 'j', name, data: { payload: { reason: 'test' }, outboxId }, attemptsMade, opts: { attempts } }) as unknown as Job;

  async function runnerWith(handler: JobHandler<'ledger.audit'>) {
    const registry = { handlerOf: () => handler } as unknown as JobRegistry;
    return new JobRunner(api.dataSource, api.config, registry, api.app.get(MetricsService));
  }

  async function outboxIdOf(key: string): Promise<string> {
    await addWork(key);
    return String((await api.dataSource.query(`SELECT id FROM outbox WHERE job_key = $1`, [key]))[0].id);
  }

  test('a job delivered twice runs its effects once', async () => {
    const key = `twice-${randomUUID()}`;
    const id = await outboxIdOf(key);
    let runs = 0;
    const runner = await runnerWith({ handle: async () => void runs++ });
    await Promise.all([runner.run(fakeJob('ledger.audit', id)), runner.run(fakeJob('ledger.audit', id))]);
    await runner.run(fakeJob('ledger.audit', id));
    expect(runs).toBe(1);
    expect(await outboxRow(key)).toMatchObject({ status: 'done', attempts: 1 });
  });

  test('effects and completion commit together: a failing job leaves nothing behind and stays pending', async () => {
    const key = `retry-${randomUUID()}`;
    const id = await outboxIdOf(key);
    const marker = `marker-${randomUUID()}`;
    const runner = await runnerWith({
      handle: async (_, { manager }) => {
        await manager.query(`INSERT INTO audit_events (action, subject_type, subject_id) VALUES ('test', 'test', $1)`, [marker]);
        throw new Error('database hiccup');
      },
    });
    await expect(runner.run(fakeJob('ledger.audit', id, 0, 3))).rejects.toThrow('database hiccup');
    expect(await outboxRow(key)).toMatchObject({ status: 'pending', attempts: 1, last_error: 'database hiccup' });
    expect(await api.dataSource.query(`SELECT 1 FROM audit_events WHERE subject_id = $1`, [marker])).toEqual([]);
    // The last attempt gives up: the row is failed, kept with its reason.
    await expect(runner.run(fakeJob('ledger.audit', id, 2, 3))).rejects.toThrow('database hiccup');
    expect(await outboxRow(key)).toMatchObject({ status: 'failed', attempts: 2 });
  });

  test('a business rejection is not retried', async () => {
    const key = `rejected-${randomUUID()}`;
    const id = await outboxIdOf(key);
    const runner = await runnerWith({
      handle: async () => {
        throw new DomainError('DELIVERY_CLOSED', 'the delivery window is closed', 'conflict');
      },
    });
    const error = await runner.run(fakeJob('ledger.audit', id, 0, 8)).catch((e: Error) => e);
    expect((error as Error).name).toBe('UnrecoverableError');
    expect(await outboxRow(key)).toMatchObject({ status: 'failed', last_error: 'DELIVERY_CLOSED: the delivery window is closed' });
  });

  test('jobs retry with exponential backoff and failed jobs are kept', () => {
    expect(api.app.get(JobQueues).defaultJobOptions).toMatchObject({
      attempts: 8,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnFail: false,
    });
  });
});

describe('job schedules survive a worker killed between taking a run and adding the next', () => {
  const HOUR = 3_600_000;
  const scheduledRuns = async (queue: Queue) =>
    (await queue.getJobs(['delayed', 'wait'])).filter((job) => job.repeatJobKey === 'every-ledger.audit').map((job) => job.id);

  // BullMQ moves a scheduled run to active and adds the next run in two round trips. A SIGKILL
  // between them leaves the schedule with nothing to run until BullMQ gives up on the killed
  // worker's run (its lock, then a stalled check): up to about a minute of no settlement sweeps.
  test('a starting worker adds the next run of a schedule a killed worker left without one', async () => {
    const env = { QUEUE_PREFIX: `schedules-${randomUUID().slice(0, 8)}`, LEDGER_CHECK_INTERVAL_MS: String(HOUR) };
    const queue = new Queue('ledger', { connection: redis, prefix: env.QUEUE_PREFIX });
    const first = await startWorker(env);
    // Its first run goes at once and adds the next, an hour on.
    const [next] = await waitFor('the next audit to be scheduled', async () => ((await scheduledRuns(queue)).length ? scheduledRuns(queue) : undefined));
    await first.close();

    // A worker takes that run and dies before it adds the one after: the run sits in active, unlocked.
    await redis.multi().zrem(`${env.QUEUE_PREFIX}:ledger:delayed`, next!).lpush(`${env.QUEUE_PREFIX}:ledger:active`, next!).exec();
    expect(await scheduledRuns(queue)).toEqual([]);

    const second = await startWorker(env);
    try {
      const millis = Number(next!.split(':').at(-1));
      expect(await scheduledRuns(queue)).toEqual([`repeat:every-ledger.audit:${millis + HOUR}`]);
      // Another worker leaves the intact schedule alone: the same run, not added again (an upsert
      // would re-add it, last in its queue).
      const added = (await queue.getJob(`repeat:every-ledger.audit:${millis + HOUR}`))!.timestamp;
      const third = await startWorker(env);
      await third.close();
      expect(await scheduledRuns(queue)).toEqual([`repeat:every-ledger.audit:${millis + HOUR}`]);
      expect((await queue.getJob(`repeat:every-ledger.audit:${millis + HOUR}`))!.timestamp).toBe(added);
    } finally {
      await second.close();
      await queue.close();
    }
  });
});
