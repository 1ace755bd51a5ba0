import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { BookGateway } from '../../src/orders/book-gateway.js';
import { type ChildService, spawnService } from '../support/child-service.js';
import { upcomingWeek } from '../support/forward-fixtures.js';
import { fundedBuyer, fundedProvider } from '../support/market-fixtures.js';
import { type OwnDatabase, ownDatabase } from '../support/own-database.js';
import { bearer, startTestApp, TEST_REDIS_URL, type TestApp, type TestParticipant } from '../support/test-app.js';
import { betweenOf, prng } from '../support/prng.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Daily marks and expiry happen exactly once per contract and day, whatever crashes: the worker
 * that runs them (and owns the contract's book, so the commits happen in it) is SIGKILLed at random
 * moments while it marks three days, then while it expires the contract. The marks, the variation
 * margin, the deliveries and every account must come out as one crash-free run makes them.
 */
const SEED = Number(process.env.FORWARD_CRASH_SEED ?? 20261203);
const KILLS = 4;
const between = betweenOf(prng(SEED));
const prefix = `fwd-crash-${randomUUID().slice(0, 8)}`;

let t: TestApp;
/** Its own database: the worker marks and expires every forward there, not other files' leftovers. */
let database: OwnDatabase;
let symbol: string;
const buyers: TestParticipant[] = [];
const providers: TestParticipant[] = [];

const workerEnv = {
  DATABASE_URL: '', // its own database, once created
  REDIS_URL: TEST_REDIS_URL,
  QUEUE_PREFIX: prefix,
  DB_MIGRATE: 'true',
  LOG_LEVEL: 'info',
  FORWARD_MARK_INTERVAL_MS: '100',
  FORWARD_LISTING_INTERVAL_MS: '3600000',
  LEDGER_CHECK_INTERVAL_MS: '3600000',
  NODE_URLS_ALLOW_PRIVATE: 'true', // the tests' nodes listen on 127.0.0.1
  OUTBOX_SWEEP_INTERVAL_MS: '200',
};

beforeAll(async () => {
  database = await ownDatabase('forward_crash');
  workerEnv.DATABASE_URL = database.url;
  t = await startTestApp({ DATABASE_URL: database.url, QUEUE_PREFIX: prefix });
  const modelClassId = `fcr${randomUUID().slice(0, 8)}-8b`;
  await t.http.post('/v1/admin/model-classes').set(bearer(t.adminKey)).send({ id: modelClassId, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2000 }).expect(201);
  symbol = (await t.http.post('/v1/admin/instruments').set(bearer(t.adminKey)).send({ modelClassId, kind: 'forward', deliveryPeriod: upcomingWeek().period }).expect(201)).body.symbol;
  for (let i = 0; i < 3; i++) buyers.push(await fundedBuyer(t, '1000'));
  for (let i = 0; i < 2; i++) providers.push(await fundedProvider(t, modelClassId, { cash: '1000' }));
}, 60_000);
afterAll(async () => {
  await t.close();
  await database.drop();
});

const order = (who: TestParticipant, side: 'buy' | 'sell', price: string, quantity: number) =>
  t.http.post('/v1/orders').set(bearer(who.key)).send({ instrument: symbol, side, type: 'limit', price, quantity }).expect(201);

async function wealth(): Promise<Map<string, bigint>> {
  const rows: Array<{ participant_id: string; total: string }> = await t.dataSource.query(
    `SELECT participant_id, sum(credits_posted - debits_posted)::text AS total FROM accounts WHERE participant_id = ANY($1::uuid[]) GROUP BY participant_id`,
    [[...buyers, ...providers].map((p) => p.id)],
  );
  return new Map(rows.map((r) => [r.participant_id, BigInt(r.total)]));
}

/** Runs a worker, SIGKILLs it KILLS times at random moments (a new one each time), then lets a last one finish `done`. */
async function crashUntil(what: string, done: () => Promise<boolean>): Promise<void> {
  for (let k = 0; k < KILLS; k++) {
    const child = spawnService('worker', workerEnv);
    await child.waitForLine(/tokex worker started/);
    await new Promise((resolve) => setTimeout(resolve, between(0, 400)));
    child.process.kill('SIGKILL');
    await child.exited();
  }
  const last: ChildService = spawnService('worker', workerEnv);
  try {
    await last.waitForLine(/tokex worker started/);
    // A killed worker may have taken a mark-and-expire run and died before adding the next one; the
    // last worker adds it as it starts (it repairs every schedule left without a next run), instead
    // of BullMQ handing the killed run on up to a minute later.
    await waitFor(what, async () => ((await done()) ? true : undefined), 100_000);
  } finally {
    last.process.kill('SIGTERM');
    await last.exited();
  }
}

describe('forward marks and expiry survive SIGKILL', () => {
  test(`three daily marks and an expiry apply exactly once through ${2 * KILLS} worker crashes (seed ${SEED})`, async () => {
    const [b1, b2, b3] = buyers;
    const [p1, p2] = providers;
    await order(p1, 'sell', '2.000', 2_000_000);
    await order(p2, 'sell', '2.100', 3_000_000);
    await order(b1, 'buy', '2.100', 1_500_000); // 1,500 lots from p1 at 2.000
    await order(b2, 'buy', '2.100', 2_000_000); // 500 from p1 at 2.000, 1,500 from p2 at 2.100
    await order(b3, 'buy', '2.100', 1_000_000); // 1,000 from p2 at 2.100; p2's last 500 rest at 2.100
    await order(b3, 'buy', '1.900', 1_000_000); // a bid: the mid is 2.000, inside the collar
    const afterTrades = await wealth();

    // The contract was listed three days ago: three days are due for a mark, each at the mid, 2.000.
    // Variation on the first: b2 −100 × 1,500, b3 −100 × 1,000, p2 +100 × 2,500 micro-USD; then none.
    await t.dataSource.query(`UPDATE instruments SET created_at = now() - interval '3 days' WHERE symbol = $1`, [symbol]);
    await t.app.get(BookGateway).release(symbol); // the worker takes the book: its commits are the ones killed
    const marks = () => t.dataSource.query(`SELECT day::text, price_ticks::int AS price, source, final FROM forward_marks WHERE instrument = $1 ORDER BY day`, [symbol]);
    await crashUntil('three daily marks', async () => (await marks()).length === 3);
    expect((await marks()).map((m: { price: number; source: string }) => [m.price, m.source])).toEqual([[2000, 'mid'], [2000, 'mid'], [2000, 'mid']]);
    const vm = await t.dataSource.query(`SELECT code, sum(amount)::text AS total, count(*)::int AS n FROM transfers WHERE id LIKE $1 GROUP BY code ORDER BY code`, [`vm:${symbol}:%`]);
    expect(vm).toEqual([
      { code: 'variation-margin-collect', total: '250000', n: 2 },
      { code: 'variation-margin-pay', total: '250000', n: 1 },
    ]);

    // The last trade passes: the contract expires at the last mark, 2.000.
    await t.dataSource.query(`UPDATE instruments SET last_trade_at = now() - interval '1 second' WHERE symbol = $1`, [symbol]);
    const open = () => t.dataSource.query(`SELECT count(*)::int AS n FROM forward_positions WHERE instrument = $1 AND lots <> 0`, [symbol]);
    await crashUntil('the expiry', async () => (await open())[0].n === 0);
    expect((await marks()).map((m: { final: boolean }) => m.final)).toEqual([false, false, true]);

    // One delivery a day of each allocation, 2.000 a MTok: escrow from the longs, 10 % bond from the shorts.
    const delivered: Array<{ buyer_id: string; provider_id: string; tokens: string; notional: string; bond: string; days: number }> = await t.dataSource.query(
      `SELECT buyer_id, provider_id, sum(quantity_tokens)::text AS tokens, sum(notional_micros)::text AS notional, sum(bond_micros)::text AS bond,
              count(DISTINCT window_start)::int AS days
         FROM deliveries WHERE instrument = $1 GROUP BY buyer_id, provider_id`,
      [symbol],
    );
    const tokensOf = (id: string, side: 'buyer_id' | 'provider_id') => delivered.filter((d) => d[side] === id).reduce((n, d) => n + Number(d.tokens), 0);
    expect([b1, b2, b3].map((b) => tokensOf(b.id, 'buyer_id'))).toEqual([1_500_000, 2_000_000, 1_000_000]);
    expect([p1, p2].map((p) => tokensOf(p.id, 'provider_id'))).toEqual([2_000_000, 2_500_000]);
    expect(delivered.every((d) => d.days === 7 && BigInt(d.notional) === BigInt(d.tokens) * 2n && BigInt(d.bond) >= BigInt(d.notional) / 10n)).toBe(true);

    // Every participant's wealth moved by its variation margin only; margin is empty, the ledger sound.
    const after = await wealth();
    const variation = new Map([[b2.id, -150_000n], [b3.id, -100_000n], [p2.id, 250_000n]]);
    for (const p of [...buyers, ...providers]) expect(after.get(p.id)! - afterTrades.get(p.id)!).toBe(variation.get(p.id) ?? 0n);
    const [margins] = await t.dataSource.query(`SELECT sum(credits_posted - debits_posted)::text AS total FROM accounts WHERE kind = 'margin' AND participant_id = ANY($1::uuid[])`, [[...buyers, ...providers].map((p) => p.id)]);
    expect(margins.total).toBe('0');
    const audit = await t.http.post('/v1/admin/ledger/audit').set(bearer(t.adminKey)).expect(200);
    expect(audit.body).toMatchObject({ sound: true, trialBalance: { balanced: true } });
    const [clearing] = await t.dataSource.query(`SELECT (credits_posted - debits_posted)::text AS balance FROM accounts WHERE participant_id IS NULL AND kind = 'clearing'`);
    expect(clearing.balance).toBe('0');
  }, 300_000);
});
