import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { requestHash } from '../../src/platform/idempotency/stored-answers.js';
import { fundedBuyer, fundedProvider, listSpotInstrument } from '../support/market-fixtures.js';
import { balancesOf, bearer, createParticipant, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';

// Issue 15 item 3: POST /v1/orders/batch, up to 100 places and cancels, each answered on its own
// once committed; never all or nothing; one Idempotency-Key for the batch.
let t: TestApp;
let symbol: string;
let modelClassId: string;

beforeAll(async () => {
  t = await startTestApp();
  ({ symbol, modelClassId } = await listSpotInstrument(t, 'batch'));
});
afterAll(async () => {
  await t.close();
});
afterEach(async () => {
  const audit = await t.http.post('/v1/admin/ledger/audit').set(bearer(t.adminKey)).expect(200);
  expect(audit.body).toMatchObject({ sound: true, trialBalance: { balanced: true } });
});

const batch = (who: TestParticipant, commands: unknown, key?: string) => {
  const request = t.http.post('/v1/orders/batch').set(bearer(who.key));
  if (key !== undefined) void request.set('idempotency-key', key);
  return request.send({ commands });
};
const place = (body: object) => ({ op: 'place', instrument: symbol, type: 'limit', ...body });
const bid = (price: string, extra: object = {}) => place({ side: 'buy', price, quantity: 1_000_000, ...extra });
const ask = (price: string, extra: object = {}) => place({ side: 'sell', price, quantity: 1_000_000, ...extra });
/** The same order for POST /v1/orders. */
const single = (who: TestParticipant, command: object) => {
  const { op: _, ...body } = command as { op: string };
  return t.http.post('/v1/orders').set(bearer(who.key)).send(body).expect(201);
};

/** Each answered order as PostgreSQL has it: the answer came after the commit. */
async function durable(orderIds: string[]): Promise<Map<string, { status: string; filled_lots: string }>> {
  const rows: Array<{ id: string; status: string; filled_lots: string }> = await t.dataSource.query(
    `SELECT id::text, status, filled_lots::text FROM orders WHERE id = ANY($1::bigint[])`,
    [orderIds],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

describe('a batch of places and cancels', () => {
  test('each command gets its own answer, in order, after its commit; refusals leave the others standing', async () => {
    const b = await fundedBuyer(t, '1');
    const other = await fundedBuyer(t, '10');
    const foreign = (await single(other, bid('0.100'))).body;
    const resting = (await single(b, bid('0.200', { clientOrderId: 'rest-1' }))).body;

    const answer = await batch(b, [
      bid('0.300', { clientOrderId: 'b-1' }),
      bid('0.30x'), // a bad price: refused alone
      place({ instrument: 'NO-SUCH-SPOT', side: 'buy', price: '0.300', quantity: 1_000_000 }),
      bid('0.900'), // more than the cash left after b-1: insufficient funds
      { op: 'cancel', orderId: foreign.id }, // another participant's order: not found
      { op: 'cancel', clientOrderId: 'rest-1' },
      bid('0.300', { clientOrderId: 'b-1' }), // a repeated clientOrderId: the first order, 200
    ]).expect(200);

    const results = answer.body.results;
    expect(results.map((r: { statusCode: number }) => r.statusCode)).toEqual([201, 400, 404, 422, 404, 200, 200]);
    expect(results[0].order).toMatchObject({ clientOrderId: 'b-1', status: 'open', price: '0.300', hold: '0.300300' });
    expect(results[1]).toMatchObject({ code: 'VALIDATION_FAILED', error: 'Bad Request', details: { fields: ['commands[1].price'] } });
    expect(results[1].message).toMatch(/^commands\[1\]\.price/);
    expect(results[2]).toMatchObject({ code: 'INSTRUMENT_NOT_FOUND' });
    expect(results[3]).toMatchObject({ code: 'INSUFFICIENT_FUNDS', statusCode: 422 });
    expect(results[4]).toMatchObject({ code: 'ORDER_NOT_FOUND' });
    expect(results[5].order).toMatchObject({ id: resting.id, status: 'cancelled' });
    expect(results[6].order).toMatchObject({ id: results[0].order.id });

    const rows = await durable([results[0].order.id, resting.id, foreign.id]);
    expect(rows.get(results[0].order.id)?.status).toBe('open');
    expect(rows.get(resting.id)?.status).toBe('cancelled');
    expect(rows.get(foreign.id)?.status).toBe('open');
    expect(await balancesOf(t, b)).toMatchObject({ held: '0.300300', available: '0.699700' });
  });

  test('commands reach the book in the order given: time priority follows the batch, and a crossing order trades in it', async () => {
    const b = await fundedBuyer(t, '10');
    const p = await fundedProvider(t, modelClassId);
    const bids = await batch(b, [bid('0.400', { clientOrderId: 'first' }), bid('0.400', { clientOrderId: 'second' })]).expect(200);
    const [first, second] = bids.body.results.map((r: { order: { id: string } }) => r.order.id);
    expect(BigInt(first)).toBeLessThan(BigInt(second));

    // The provider's batch: a sell that takes the first bid only, then one resting above.
    const sells = await batch(p, [ask('0.400'), ask('0.450')]).expect(200);
    expect(sells.body.results[0]).toMatchObject({ statusCode: 201, order: { status: 'filled', fills: [expect.objectContaining({ price: '0.400', liquidity: 'taker' })] } });
    expect(sells.body.results[1]).toMatchObject({ statusCode: 201, order: { status: 'open' } });
    const rows = await durable([first, second]);
    expect(rows.get(first)).toMatchObject({ status: 'filled', filled_lots: '1000' });
    expect(rows.get(second)).toMatchObject({ status: 'open', filled_lots: '0' });
    const [{ count }] = await t.dataSource.query(`SELECT count(*)::int AS count FROM fills WHERE taker_order_id = $1`, [sells.body.results[0].order.id]);
    expect(count).toBe(1);
  });

  test('a malformed batch is a 400 naming the field; a malformed command is refused alone', async () => {
    const b = await fundedBuyer(t, '10');
    for (const [commands, reason] of [
      [[], 'commands must hold at least one command'],
      [Array.from({ length: 101 }, () => bid('0.100')), 'commands must hold at most 100 commands'],
      ['place', 'commands must be an array'],
    ] as const) {
      const refused = await batch(b, commands).expect(400);
      expect(refused.body).toMatchObject({ code: 'VALIDATION_FAILED' });
      expect(refused.body.message).toContain(reason);
    }
    await t.http.post('/v1/orders/batch').set(bearer(b.key)).send({ commands: [bid('0.100')], extra: 1 }).expect(400);

    const answer = await batch(b, [
      'place',
      { op: 'dance' },
      bid('0.100', { price: null }),
      bid('0.100', { colour: 'red' }),
      { op: 'cancel' },
      { op: 'cancel', orderId: '1', clientOrderId: 'x' },
      { op: 'cancel', orderId: 'abc' },
      bid('0.100'),
    ]).expect(200);
    const results = answer.body.results;
    expect(results.map((r: { statusCode: number }) => r.statusCode)).toEqual([400, 400, 400, 400, 400, 400, 400, 201]);
    expect(results.slice(0, 7).map((r: { details: { fields: string[] } }) => r.details.fields)).toEqual([
      ['commands[0]'],
      ['commands[1].op'],
      ['commands[2].price'],
      ['commands[3].colour'],
      ['commands[4].orderId', 'commands[4].clientOrderId'],
      ['commands[5].orderId', 'commands[5].clientOrderId'],
      ['commands[6].orderId'],
    ]);
    expect(results[3].message).toBe('commands[3].colour: unknown field');
  });

  test('a participant without the role for a side is refused for that command only', async () => {
    const b = await fundedBuyer(t, '10');
    const answer = await batch(b, [ask('0.500'), bid('0.100')]).expect(200);
    expect(answer.body.results.map((r: { statusCode: number }) => r.statusCode)).toEqual([403, 201]);
    const admin = await createParticipant(t, ['admin']);
    await batch(admin, [bid('0.100')]).expect(403);
  });
});

describe('Idempotency-Key on a batch', () => {
  test('the same key and body: the first answer, nothing placed twice; another body: 409', async () => {
    const b = await fundedBuyer(t, '10');
    const commands = [bid('0.150', { clientOrderId: 'i-1' }), bid('0.160')];
    const first = await batch(b, commands, 'batch-1').expect(200);
    const again = await batch(b, commands, 'batch-1').expect(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    const [{ count }] = await t.dataSource.query(`SELECT count(*)::int AS count FROM orders WHERE participant_id = $1`, [b.id]);
    expect(count).toBe(2);
    const other = await batch(b, [bid('0.170')], 'batch-1').expect(409);
    expect(other.body).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
  });

  test('retries sent while the first runs place nothing twice: each gets the answer or a 409 to retry', async () => {
    const b = await fundedBuyer(t, '10');
    const commands = Array.from({ length: 20 }, (_, i) => bid('0.110', { clientOrderId: `c-${i}` }));
    const answers = await Promise.all(Array.from({ length: 4 }, () => batch(b, commands, 'batch-2')));
    const done = answers.filter((a) => a.status === 200);
    expect(done.length).toBeGreaterThan(0);
    for (const a of answers.filter((x) => x.status !== 200)) expect(a.body).toMatchObject({ statusCode: 409, code: 'IDEMPOTENCY_KEY_IN_FLIGHT' });
    for (const a of done) expect(a.body).toEqual(done[0].body);
    const [{ count }] = await t.dataSource.query(`SELECT count(*)::int AS count FROM orders WHERE participant_id = $1`, [b.id]);
    expect(count).toBe(20);
    // Once answered, the same key gets the stored answer.
    expect((await batch(b, commands, 'batch-2').expect(200)).body).toEqual(done[0].body);
  });

  test('a batch run again after a crash lost its answer never places twice: each place has its own key', async () => {
    const b = await fundedBuyer(t, '10');
    const commands = [bid('0.120'), bid('0.130')]; // no clientOrderId: only the keys prevent doubles
    const first = await batch(b, commands, 'batch-3').expect(200);
    // As if the process died after the orders committed but before the batch's answer was stored.
    await t.dataSource.query(`DELETE FROM idempotency_keys WHERE participant_id = $1 AND key = 'batch-3'`, [b.id]);
    const rerun = await batch(b, commands, 'batch-3').expect(200);
    expect(rerun.body.results.map((r: { order: { id: string } }) => r.order.id)).toEqual(first.body.results.map((r: { order: { id: string } }) => r.order.id));
    const [{ count }] = await t.dataSource.query(`SELECT count(*)::int AS count FROM orders WHERE participant_id = $1`, [b.id]);
    expect(count).toBe(2);
    expect(await balancesOf(t, b)).toMatchObject({ held: '0.250250' });
  });

  test('a claim left by a crashed process lapses: the key is usable again', async () => {
    const b = await fundedBuyer(t, '10');
    await t.dataSource.query(
      `INSERT INTO idempotency_keys (participant_id, key, request_hash, status_code, response_body, created_at) VALUES ($1, 'batch-4', '\\x00', 0, 'null', now() - interval '2 minutes')`,
      [b.id],
    );
    await batch(b, [bid('0.140')], 'batch-4').expect(200);
    // A fresh claim of the same request: still running somewhere, so a 409 to retry.
    const hash = requestHash({ route: 'POST /v1/orders/batch', body: [bid('0.140')] });
    await t.dataSource.query(
      `INSERT INTO idempotency_keys (participant_id, key, request_hash, status_code, response_body) VALUES ($1, 'batch-5', decode($2, 'hex'), 0, 'null')`,
      [b.id, hash],
    );
    const inFlight = await batch(b, [bid('0.140')], 'batch-5').expect(409);
    expect(inFlight.body).toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_FLIGHT', details: { retryAfterSeconds: 1 } });
  });
});
