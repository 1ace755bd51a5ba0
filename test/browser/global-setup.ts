import { Queue } from 'bullmq';
import { childServiceEnv, spawnService } from '../support/child-service.js';
import { ownDatabase } from '../support/own-database.js';
import { BOOTSTRAP_ADMIN_KEY, TEST_REDIS_URL } from '../support/test-env.js';
import { seedMarket } from './seed.js';

/**
 * Once per browser test run: a database of its own, the built service (`all`: API and worker, as
 * `npm start` runs it) on a free port, and a seeded market. The tests read where it is and what
 * was seeded from the environment; the returned function stops the service.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  const databaseUrl = (await ownDatabase('browser')).url;
  const env: Record<string, string> = { ...childServiceEnv('browser'), DATABASE_URL: databaseUrl, REDIS_URL: TEST_REDIS_URL, LEDGER_CHECK_INTERVAL_MS: '2000' };
  const service = spawnService('all', env);
  const line = await service.waitForLine(/tokex listening/, 60_000);
  const baseUrl = (JSON.parse(line).url as string).replace('[::1]', '127.0.0.1');
  const seed = await seedMarket(baseUrl, BOOTSTRAP_ADMIN_KEY);
  await failedJob(env.QUEUE_PREFIX);
  process.env.OPS_BASE_URL = baseUrl;
  process.env.OPS_SEED = JSON.stringify(seed);
  return async () => {
    service.process.kill('SIGTERM');
    await service.exited();
  };
}

/**
 * A job that fails, for the console's "retry a failed job": a batch verification naming a node id
 * that is not a UUID, which PostgreSQL refuses. It runs once (no retries) and stays failed.
 */
async function failedJob(prefix: string): Promise<void> {
  const queue = new Queue('metering', { connection: { url: TEST_REDIS_URL }, prefix });
  try {
    const job = await queue.add('metering.verify-batch', { payload: { nodeId: 'not-a-node', batchId: 'seeded-broken-batch' } }, { attempts: 1, jobId: 'seeded-broken-batch' });
    const deadline = Date.now() + 30_000;
    while ((await queue.getJobState(job.id!)) !== 'failed') {
      if (Date.now() > deadline) throw new Error('the seeded job did not fail');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await queue.close();
  }
}
