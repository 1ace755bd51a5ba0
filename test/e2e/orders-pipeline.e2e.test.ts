import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import pg from 'pg';
import { postTransfersSql } from '../../src/ledger/ledger.repository.js';
import { TEST_DATABASE_URL } from '../support/test-env.js';
import { fundedBuyer, listSpotInstrument } from '../support/market-fixtures.js';
import { bearer, type TestApp, type TestParticipant, startTestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait-for.js';

// Issue 15 item 2: the book writer plans batch N+1 while batch N commits. These tests hold a
// buyer's account row locked from outside, so batch N's commit waits on it while the next orders
// are planned on top of it; then they let N commit, or make it fail.
let t: TestApp;
let symbol: string;
let db: pg.Client;

beforeAll(async () => {
  t = await startTestApp();
  ({ symbol } = await listSpotInstrument(t, 'pipe'));
  db = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await db.connect();
});
afterAll(async () => {
  await db.end();
  await t.close();
});
afterEach(async () => {
  const audit = await t.http.post('/v1/admin/ledger/audit').set(bearer(t.adminKey)).expect(200);
  expect(audit.body).toMatchObject({ sound: true, trialBalance: { balanced: true } });
});

const bid = (who: TestParticipant, price: string) =>
  t.http.post('/v1/orders').set(bearer(who.key)).send({ instrument: symbol, side: 'buy', type: 'limit', price, quantity: 1_000_000 });

/** A counter of this instrument from /metrics. */
async function counter(name: string, label: string): Promise<number> {
  const text = (await t.http.get('/metrics').expect(200)).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`instrument="${symbol}"`) && l.includes(label));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}
const plannedAhead = () => counter('tokex_order_batches_planned_total', 'planned="ahead"');
const retried = () => counter('tokex_order_batch_retries_total', 'reason=');

async function availableAccount(who: TestParticipant): Promise<string> {
  const [row] = await t.dataSource.query(`SELECT id::text FROM accounts WHERE participant_id = $1 AND kind = 'available'`, [who.id]);
  return row.id;
}

/** Waits until a transaction of the service waits for a row lock (batch N's commit, on the locked account). */
const commitWaiting = () =>
  waitFor('a commit waiting on the locked account', async () => {
    const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).then((r) => r.rows);
    return n > 0 ? true : undefined;
  });

async function durableStatus(orderId: string): Promise<string | undefined> {
  const rows: Array<{ status: string }> = await t.dataSource.query(`SELECT status FROM orders WHERE id = $1`, [orderId]);
  return rows[0]?.status;
}

describe('planning the next batch while one commits', () => {
  test('the next batch spends what the committing one left: refused at once, with no batch run again', async () => {
    const alice = await fundedBuyer(t, '1');
    const bob = await fundedBuyer(t, '1');
    const [ahead, retries] = [await plannedAhead(), await retried()];

    await db.query('BEGIN');
    await db.query(`SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, [await availableAccount(alice)]);
    const first = bid(alice, '0.600'); // holds 0.6006 of alice's 1.00: batch N, waiting on the lock
    const firstAnswer = first.then((r) => r);
    await commitWaiting();
    const second = bid(alice, '0.500').then((r) => r); // 0.5005 > the 0.3994 N leaves her
    const third = bid(bob, '0.100').then((r) => r);
    await waitFor('the next batch planned ahead', async () => ((await plannedAhead()) > ahead ? true : undefined));
    await db.query('COMMIT');

    const [a, b, c] = await Promise.all([firstAnswer, second, third]);
    expect(a.status).toBe(201);
    expect(b.status).toBe(422);
    expect(b.body).toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
    expect(c.status).toBe(201);
    expect(await durableStatus(a.body.id)).toBe('open');
    expect(await durableStatus(c.body.id)).toBe('open');
    // Planned on balances read before N committed, plus N's own holds: nothing had to run again.
    expect(await retried()).toBe(retries);
    const balances = (await t.http.get('/v1/me').set(bearer(alice.key)).expect(200)).body.balances;
    expect(balances).toMatchObject({ available: '0.399400', held: '0.600600' });
  });

  test('when the committing batch fails, the batch planned on top of it is set aside and planned again', async () => {
    const alice = await fundedBuyer(t, '1');
    const bob = await fundedBuyer(t, '1');
    const account = await availableAccount(alice);
    const [external] = await t.dataSource.query(`SELECT id::text FROM accounts WHERE participant_id IS NULL AND kind = 'external'`);
    const ahead = await plannedAhead();

    // Alice withdraws 0.50 in a transaction that holds her account until the next batch is planned.
    await db.query('BEGIN');
    const withdrawal = { id: `test-withdrawal:${randomUUID()}`, debitAccountId: BigInt(account), creditAccountId: BigInt(external.id), amount: 500_000n, code: 'withdrawal' };
    for (const statement of postTransfersSql([withdrawal])) await db.query(statement);
    const first = bid(alice, '0.650').then((r) => r); // planned on 1.00, but only 0.50 will be there
    await commitWaiting();
    const second = bid(alice, '0.300').then((r) => r); // planned on top of the first
    const third = bid(bob, '0.100').then((r) => r);
    await waitFor('the next batch planned ahead', async () => ((await plannedAhead()) > ahead ? true : undefined));
    await db.query('COMMIT');

    const [a, b, c] = await Promise.all([first, second, third]);
    // The first batch's commit found the withdrawal and failed; run again alone, its order is refused.
    expect(a.status).toBe(422);
    expect(a.body).toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
    // The orders planned on top of it were planned again on the rebuilt book, and committed.
    expect(b.status).toBe(201);
    expect(c.status).toBe(201);
    expect(await durableStatus(b.body.id)).toBe('open');
    expect(await durableStatus(c.body.id)).toBe('open');
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM orders WHERE participant_id = $1`, [alice.id]);
    expect(n).toBe(1);
    const balances = (await t.http.get('/v1/me').set(bearer(alice.key)).expect(200)).body.balances;
    expect(balances).toMatchObject({ available: '0.199700', held: '0.300300' });
    const book = (await t.http.get(`/v1/markets/${symbol}/book`).expect(200)).body;
    expect(book.bids.map((l: { price: string }) => l.price)).toContain('0.300');
    expect(book.bids.map((l: { price: string }) => l.price)).not.toContain('0.650');
  });
});
