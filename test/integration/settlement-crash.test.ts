import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BookGateway } from '../../src/orders/book-gateway.js';
import { closeDelivery, payoutBetween } from '../../src/settlement/core/delivery-money.js';
import { VerifiedUsageRepository } from '../../src/metering/verified-usage.repository.js';
import { type ChildService, spawnService } from '../support/child-service.js';
import { fundedBuyer, fundedProvider } from '../support/market-fixtures.js';
import { type OwnDatabase, ownDatabase } from '../support/own-database.js';
import { bearer, startTestApp, TEST_REDIS_URL, type TestApp, type TestParticipant } from '../support/test-app.js';
import { betweenOf, prng } from '../support/prng.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Exactly once, whatever crashes: 10,000 spot fills go through settlement (payouts of verified
 * usage, then every window's close, some in breach) while the worker process is SIGKILLed and
 * restarted at random moments, and Redis is flushed half way. The final balances must equal what
 * the pure settlement core says a crash-free run ends with, to the micro-dollar.
 */
const SEED = Number(process.env.SETTLEMENT_CRASH_SEED ?? 20261126);
const BUYERS = 20;
const PROVIDERS = 5;
const FILLS = 10_000;
const KILLS = Number(process.env.SETTLEMENT_CRASH_KILLS ?? 12);

const random = prng(SEED);
const between = betweenOf(random);

let t: TestApp;
/** Its own database: the worker sweeps every due window and unpaid usage there, not other files' leftovers. */
let database: OwnDatabase;
/** A healthy node's /health for every provider but the first, whose node is unreachable. */
let healthy: Server;
let symbol: string;
let modelClassId: string;
const buyers: TestParticipant[] = [];
const providers: TestParticipant[] = [];

const workerEnv = {
  DATABASE_URL: '', // its own database, once created
  REDIS_URL: TEST_REDIS_URL,
  QUEUE_PREFIX: `settlement-crash-${randomUUID().slice(0, 8)}`,
  DB_MIGRATE: 'true',
  LOG_LEVEL: 'info',
  SETTLEMENT_PAYOUT_INTERVAL_MS: '50',
  SETTLEMENT_CLOSE_INTERVAL_MS: '100',
  SETTLEMENT_CLOSE_GRACE_MS: '0',
  NODE_PROBE_INTERVAL_MS: '1000',
  LEDGER_CHECK_INTERVAL_MS: '3600000',
  NODE_URLS_ALLOW_PRIVATE: 'true', // the tests' nodes listen on 127.0.0.1
  OUTBOX_SWEEP_INTERVAL_MS: '200',
};

beforeAll(async () => {
  database = await ownDatabase('settlement_crash');
  workerEnv.DATABASE_URL = database.url;
  t = await startTestApp({ DATABASE_URL: database.url });
  modelClassId = `crs${randomUUID().slice(0, 8)}-8b`;
  await t.http
    .post('/v1/admin/model-classes')
    .set(bearer(t.adminKey))
    .send({ id: modelClassId, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2000 })
    .expect(201);
  ({ symbol } = (await t.http.post('/v1/admin/instruments').set(bearer(t.adminKey)).send({ modelClassId, kind: 'spot', spotWindowSeconds: 3600 }).expect(201)).body);
  for (let i = 0; i < BUYERS; i++) buyers.push(await fundedBuyer(t, '100'));
  for (let i = 0; i < PROVIDERS; i++) providers.push(await fundedProvider(t, modelClassId, { cash: '100', tokensPerSecond: 1_000_000 }));
  healthy = createServer((_, response) => response.end('ok')).listen(0, '127.0.0.1');
  await once(healthy, 'listening');
  await t.dataSource.query(`UPDATE inference_nodes SET base_url = $1 WHERE provider_id = ANY($2::uuid[])`, [
    `http://127.0.0.1:${(healthy.address() as AddressInfo).port}/v1`,
    providers.slice(1).map((p) => p.id),
  ]);
}, 60_000);
afterAll(async () => {
  await t.close();
  healthy.close();
  await database.drop();
});

interface Balances {
  [participantAndKind: string]: bigint;
}

async function balances(): Promise<Balances> {
  const rows: Array<{ key: string; balance: string }> = await t.dataSource.query(
    `SELECT participant_id::text || ':' || kind AS key, (credits_posted - debits_posted)::text AS balance FROM accounts
      WHERE participant_id = ANY($1::uuid[])`,
    [[...buyers, ...providers].map((p) => p.id)],
  );
  return Object.fromEntries(rows.map((r) => [r.key, BigInt(r.balance)]));
}

/** 10,000 one-lot buys rest; each provider's sells sweep its share of them: one fill, one delivery each. */
async function makeFills(): Promise<void> {
  const books = t.app.get(BookGateway);
  for (let start = 0; start < FILLS; start += 1_000) {
    await Promise.all(
      Array.from({ length: 1_000 }, (_, i) =>
        books.submit(symbol, {
          kind: 'place',
          participantId: buyers[(start + i) % BUYERS].id,
          side: 'buy',
          type: 'limit',
          timeInForce: 'GTC',
          priceTicks: between(495, 505),
          lots: 1,
          postOnly: false,
          stp: 'cancel_taker',
        }),
      ),
    );
  }
  for (const provider of providers) {
    const result = await books.submit(symbol, {
      kind: 'place',
      participantId: provider.id,
      side: 'sell',
      type: 'limit',
      timeInForce: 'IOC',
      priceTicks: 400,
      lots: FILLS / PROVIDERS,
      postOnly: false,
      stp: 'cancel_taker',
    });
    expect(result.fills).toHaveLength(FILLS / PROVIDERS);
  }
}

/** Where settlement stands, for a failure's message: what is left, failed steps, the queue, lock waits and the worker's last lines. */
async function stuck(child: ChildService): Promise<string> {
  const [left] = await t.dataSource.query(
    `SELECT count(*) FILTER (WHERE d.status = 'open')::int AS open,
            count(*) FILTER (WHERE d.status = 'open' AND d.disputed_tokens > 0)::int AS disputed,
            count(*) FILTER (WHERE d.status = 'open' AND d.window_end > now())::int AS not_due,
            (SELECT count(*)::int FROM delivery_usage u JOIN deliveries e ON e.id = u.delivery_id WHERE e.instrument = $1 AND u.payout_id IS NULL) AS unpaid
       FROM deliveries d WHERE d.instrument = $1`,
    [symbol],
  );
  const failed = await t.dataSource.query(
    `SELECT s.kind, s.error, count(*)::int AS n FROM settlements s JOIN deliveries d ON d.id = s.delivery_id
      WHERE d.instrument = $1 AND s.status = 'failed' GROUP BY 1, 2`,
    [symbol],
  );
  const queue = new Queue('settlement', { connection: { url: TEST_REDIS_URL }, prefix: workerEnv.QUEUE_PREFIX });
  const counts = await queue.getJobCounts();
  const schedulers = (await queue.getJobSchedulers()).map((s) => ({ key: s.key, next: s.next }));
  await queue.close();
  const waiting = await t.dataSource.query(
    `SELECT pid, state, wait_event_type, wait_event, now() - xact_start AS open_for, left(query, 120) AS query FROM pg_stat_activity
      WHERE datname = current_database() AND (wait_event_type = 'Lock' OR state = 'idle in transaction')`,
  );
  const lines = child.output().split('\n');
  const closed = lines.filter((line) => line.includes('delivery window closed')).length;
  const tail = lines.filter((line) => !line.includes('delivery window closed')).slice(-30);
  return [
    `left: ${JSON.stringify(left)}; failed steps: ${JSON.stringify(failed)}`,
    `settlement queue: ${JSON.stringify(counts)}; schedulers: ${JSON.stringify(schedulers)} at ${Date.now()}`,
    `waiting in PostgreSQL: ${JSON.stringify(waiting)}`,
    `the last worker closed ${closed} delivery windows; its last other lines:`,
    ...tail,
  ].join('\n');
}

async function startWorker(): Promise<ChildService> {
  const child = spawnService('worker', workerEnv);
  await child.waitForLine(/tokex worker started/);
  return child;
}

async function kill(child: ChildService): Promise<void> {
  child.process.kill('SIGKILL');
  await child.exited();
}

describe('settlement survives SIGKILL and a Redis flush', () => {
  test(`${FILLS.toLocaleString('en')} fills settle exactly once through ${KILLS} worker crashes (seed ${SEED})`, async () => {
    const before = await balances();
    await makeFills();
    const deliveries: Array<{ id: string; buyer_id: string; provider_id: string; quantity_tokens: string; notional_micros: string; seller_fee_micros: string; bond_micros: string }> =
      await t.dataSource.query(`SELECT id, buyer_id, provider_id, quantity_tokens, notional_micros, seller_fee_micros, bond_micros FROM deliveries WHERE instrument = $1`, [symbol]);
    expect(deliveries).toHaveLength(FILLS);

    // Verified usage for most deliveries, sometimes in two records, sometimes beyond the quantity.
    const verifiedUsage = t.app.get(VerifiedUsageRepository);
    const usage = new Map<string, bigint>();
    const records: Array<[string, string, bigint]> = [];
    for (const d of deliveries) {
      const parts = between(0, 2);
      for (let p = 0; p < parts; p++) {
        const tokens = BigInt(between(1, 800));
        records.push([`crash-${d.id}-${p}`, d.id, tokens]);
        usage.set(d.id, (usage.get(d.id) ?? 0n) + tokens);
      }
    }
    for (let i = 0; i < records.length; i += 50) await Promise.all(records.slice(i, i + 50).map(([id, d, n]) => verifiedUsage.record(id, d, n)));
    const afterFills = await balances();

    // The worker probes the nodes while their windows are open: the first provider's node never
    // answers, and probes recorded through the whole window make its deliveries close in breach.
    const breached = providers[0].id;
    const redis = new Redis(TEST_REDIS_URL);
    let child = await startWorker();
    try {
      for (let k = 1; k <= KILLS; k++) {
        await new Promise((resolve) => setTimeout(resolve, between(100, 900)));
        await kill(child);
        if (k === 4) {
          // Every window ends now: the closes begin while the payouts may still be running.
          await t.dataSource.query(
            `UPDATE deliveries SET window_start = now() - interval '60 seconds', window_end = now() - interval '1 second' WHERE instrument = $1`,
            [symbol],
          );
          const [node] = await t.dataSource.query(`SELECT id FROM inference_nodes WHERE provider_id = $1`, [breached]);
          await t.dataSource.query(
            `INSERT INTO node_probes (node_id, provider_id, model_class_id, probed_at, ok, status_code, error)
             SELECT $1, $2, $3, now() - make_interval(secs => s), false, 503, 'down' FROM generate_series(0, 90, 5) AS s`,
            [node.id, breached, modelClassId],
          );
        }
        if (k === 7) await redis.flushdb(); // Redis forgets every job and scheduler
        child = await startWorker();
      }
      try {
        await waitFor(
          'every delivery to close and every usage record to be paid',
          async () => {
            const [{ open, unpaid }] = await t.dataSource.query(
              `SELECT (SELECT count(*)::int FROM deliveries WHERE instrument = $1 AND status = 'open') AS open,
                      (SELECT count(*)::int FROM delivery_usage u JOIN deliveries d ON d.id = u.delivery_id WHERE d.instrument = $1 AND u.payout_id IS NULL) AS unpaid`,
              [symbol],
            );
            return open === 0 && unpaid === 0 ? true : undefined;
          },
          90_000,
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}\n${await stuck(child)}`);
      }
    } finally {
      await kill(child);
      redis.disconnect();
    }

    // What a crash-free run ends with, from the pure core: per delivery, the usage paid (capped at
    // the quantity), then the close with the breach verdict.
    const expected: Balances = { ...afterFills };
    const add = (key: string, amount: bigint) => (expected[key] = (expected[key] ?? 0n) + amount);
    let fees = 0n;
    for (const d of deliveries) {
      const terms = { quantity: BigInt(d.quantity_tokens), notional: BigInt(d.notional_micros), sellerFee: BigInt(d.seller_fee_micros), bond: BigInt(d.bond_micros) };
      const used = usage.get(d.id) ?? 0n;
      const paidTo = used < terms.quantity ? used : terms.quantity;
      const paid = payoutBetween(terms, 0n, paidTo);
      const close = closeDelivery(terms, paidTo, 0n, d.provider_id === breached);
      add(`${d.buyer_id}:escrow`, -terms.notional);
      add(`${d.provider_id}:available`, paid.providerNet + close.payout.providerNet + close.bondReleased);
      fees += paid.fee + close.payout.fee;
      add(`${d.buyer_id}:available`, close.refund + close.penalty);
      add(`${d.provider_id}:bond`, -terms.bond);
    }
    const actual = await balances();
    expect(actual).toEqual(expected);
    // The fills' escrow all moved out, and the money only moved between these accounts.
    for (const b of buyers) expect(actual[`${b.id}:escrow`]).toBe(before[`${b.id}:escrow`]);

    // The exchange's fees from these deliveries (its fee account is shared with other tests' trades).
    const [{ charged }] = await t.dataSource.query(
      `SELECT coalesce(sum(t.amount), 0)::text AS charged FROM transfers t JOIN deliveries d ON t.ref = d.id::text
        WHERE d.instrument = $1 AND t.code = 'delivery-fee'`,
      [symbol],
    );
    expect(BigInt(charged)).toBe(fees);
    const [steps] = await t.dataSource.query(
      `SELECT count(*) FILTER (WHERE s.kind = 'close')::int AS closes, count(*) FILTER (WHERE s.status = 'failed')::int AS failed,
              count(DISTINCT s.key)::int AS keys, count(*)::int AS total
         FROM settlements s JOIN deliveries d ON d.id = s.delivery_id WHERE d.instrument = $1`,
      [symbol],
    );
    expect(steps).toMatchObject({ closes: FILLS, failed: 0, keys: steps.total });
    const outcomes = await t.dataSource.query(`SELECT outcome, count(*)::int AS n FROM deliveries WHERE instrument = $1 GROUP BY outcome ORDER BY outcome`, [symbol]);
    expect(outcomes.map((o: { outcome: string }) => o.outcome)).toEqual(expect.arrayContaining(['breach', 'take_or_pay']));
    const audit = await t.http.post('/v1/admin/ledger/audit').set(bearer(t.adminKey)).expect(200);
    expect(audit.body).toMatchObject({ sound: true, trialBalance: { balanced: true } });
  }, 240_000);
});
