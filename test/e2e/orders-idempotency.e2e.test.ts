import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { fundedBuyer, listSpotInstrument } from '../support/market-fixtures.js';
import { balancesOf, bearer, deposit, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';

// Issue 14 item 3: Idempotency-Key on POST /v1/orders, decided by the book's writer and stored in
// the order's own commit.
let t: TestApp;
let symbol: string;
let otherSymbol: string;

beforeAll(async () => {
  t = await startTestApp();
  ({ symbol } = await listSpotInstrument(t, 'idem'));
  ({ symbol: otherSymbol } = await listSpotInstrument(t, 'idem'));
});
afterAll(async () => {
  await t.close();
});

const bid = { side: 'buy', type: 'limit', price: '0.450', quantity: 1_000_000 };
const place = (who: TestParticipant, key: string, body: object = { instrument: symbol, ...bid }) =>
  t.http.post('/v1/orders').set(bearer(who.key)).set('idempotency-key', key).send(body);
const ordersOf = async (who: TestParticipant) => (await t.http.get('/v1/orders').set(bearer(who.key)).expect(200)).body.items;

describe('Idempotency-Key on POST /v1/orders', () => {
  test('the same key and body twice: the first answer (status and body), one order, one hold', async () => {
    const b = await fundedBuyer(t, '10');
    const first = await place(b, 'k-1').expect(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const again = await place(b, 'k-1').expect(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await ordersOf(b)).toHaveLength(1);
    expect(await balancesOf(t, b)).toMatchObject({ held: '0.450450' });
    // The answer is stored by the order's commit: it is in PostgreSQL as the client got it.
    const [stored] = await t.dataSource.query(`SELECT status_code, response_body FROM idempotency_keys WHERE participant_id = $1 AND key = 'k-1'`, [b.id]);
    expect(stored).toEqual({ status_code: 201, response_body: first.body });
  });

  test('the same key with another body is a 409 and places nothing', async () => {
    const b = await fundedBuyer(t, '10');
    await place(b, 'k-2').expect(201);
    const other = await place(b, 'k-2', { instrument: symbol, ...bid, price: '0.460' }).expect(409);
    expect(other.body).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await ordersOf(b)).toHaveLength(1);
  });

  test('retries sent while the first is in flight place one order, and all get its answer', async () => {
    const b = await fundedBuyer(t, '10');
    const answers = await Promise.all(Array.from({ length: 6 }, () => place(b, 'k-3')));
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(201));
    for (const a of answers) expect(a.body).toEqual(answers[0].body);
    expect(answers.filter((a) => a.headers['idempotent-replayed'] !== 'true')).toHaveLength(1);
    expect(await ordersOf(b)).toHaveLength(1);
  });

  test('one key sent at once to two books: one order, the other request a 409', async () => {
    const b = await fundedBuyer(t, '10');
    const answers = await Promise.all([place(b, 'k-4'), place(b, 'k-4', { instrument: otherSymbol, ...bid })]);
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
    expect(await ordersOf(b)).toHaveLength(1);
  });

  test('a key first used on another route is a 409 here', async () => {
    const b = await fundedBuyer(t, '10');
    await t.http.post('/v1/withdrawals').set(bearer(b.key)).set('idempotency-key', 'k-5').send({ amount: '1' }).expect(201);
    await place(b, 'k-5').expect(409);
    expect(await ordersOf(b)).toHaveLength(0);
  });

  test('a refused order leaves no key: the same request succeeds once it can', async () => {
    const b = await fundedBuyer(t, '0.1');
    const refused = await place(b, 'k-6').expect(422);
    expect(refused.body).toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
    await deposit(t, b.id, '10');
    await place(b, 'k-6').expect(201);
    expect(await ordersOf(b)).toHaveLength(1);
  });

  test('keys are per participant, and a malformed key is a 400 naming the header', async () => {
    const [b1, b2] = [await fundedBuyer(t, '10'), await fundedBuyer(t, '10')];
    await place(b1, 'shared').expect(201);
    await place(b2, 'shared').expect(201);
    expect(await ordersOf(b2)).toHaveLength(1);
    const bad = await place(b1, 'x'.repeat(256)).expect(400);
    expect(bad.body.message).toMatch(/Idempotency-Key/);
  });
});
