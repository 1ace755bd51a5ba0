import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { fundedBuyer, fundedProvider, listSpotInstrument } from '../support/market-fixtures.js';
import { type Message, StreamClient } from '../support/stream-client.js';
import { balancesOf, bearer, createParticipant, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';

// Issue 15 item 3: order entry over the authenticated WebSocket. place, amend and cancel messages,
// each answered after its commit with the caller's id, through the same checks as REST.
let t: TestApp;
let baseUrl: string;
let symbol: string;
let modelClassId: string;

beforeAll(async () => {
  t = await startTestApp();
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = await t.app.getUrl();
  ({ symbol, modelClassId } = await listSpotInstrument(t, 'wso'));
});
afterAll(async () => {
  await t.close();
});

async function streamOf(who: TestParticipant): Promise<StreamClient> {
  const stream = await StreamClient.open(baseUrl);
  expect(await stream.request({ op: 'auth', apiKey: who.key }, 'authenticated')).toMatchObject({ op: 'authenticated' });
  return stream;
}

/** Sends an order message and waits for the answer carrying its id. */
async function ask(stream: StreamClient, message: { op: string; id: string | number } & Record<string, unknown>): Promise<Message> {
  const from = stream.received.length;
  stream.send(message);
  return stream.next(`the answer to ${message.id}`, (m) => m.id === message.id && m.op !== undefined, from);
}

const bid = (price: string, extra: object = {}) => ({ instrument: symbol, side: 'buy', type: 'limit', price, quantity: 1_000_000, ...extra });
const orderRow = async (id: unknown) =>
  (await t.dataSource.query(`SELECT status, price_ticks::int AS price_ticks, quantity_lots::int AS lots FROM orders WHERE id = $1`, [id]))[0];

describe('order entry over the stream', () => {
  test('place, amend and cancel: each answered with its id once committed, as REST would answer', async () => {
    const b = await fundedBuyer(t, '10');
    const stream = await streamOf(b);

    const placed = await ask(stream, { op: 'place', id: 'p-1', ...bid('0.450', { clientOrderId: 'ws-1' }) });
    expect(placed).toMatchObject({ op: 'placed', id: 'p-1', statusCode: 201, order: { clientOrderId: 'ws-1', status: 'open', price: '0.450', hold: '0.450450' } });
    const id = (placed.order as { id: string }).id;
    expect(await orderRow(id)).toEqual({ status: 'open', price_ticks: 450, lots: 1000 });

    const amended = await ask(stream, { op: 'amend', id: 2, orderId: id, price: '0.400' });
    expect(amended).toMatchObject({ op: 'amended', id: 2, statusCode: 200, order: { id, price: '0.400', hold: '0.400400' } });
    expect(await orderRow(id)).toMatchObject({ price_ticks: 400 });

    const again = await ask(stream, { op: 'place', id: 'p-2', ...bid('0.450', { clientOrderId: 'ws-1' }) });
    expect(again).toMatchObject({ op: 'placed', statusCode: 200, order: { id } }); // a repeated clientOrderId: the first order

    const cancelled = await ask(stream, { op: 'cancel', id: 'c-1', clientOrderId: 'ws-1' });
    expect(cancelled).toMatchObject({ op: 'cancelled', id: 'c-1', statusCode: 200, order: { id, status: 'cancelled' } });
    expect(await orderRow(id)).toMatchObject({ status: 'cancelled' });
    expect(await balancesOf(t, b)).toMatchObject({ held: '0.000000', available: '10.000000' });
    stream.close();
  });

  test('orders sent without waiting are all answered, and reach the book in the order sent', async () => {
    const b = await fundedBuyer(t, '100');
    const p = await fundedProvider(t, modelClassId);
    const stream = await streamOf(b);
    const from = stream.received.length;
    for (let i = 0; i < 40; i++) stream.send({ op: 'place', id: i, ...bid('0.300', { clientOrderId: `burst-${i}` }) });
    await stream.until('40 answers', () => (stream.received.slice(from).filter((m) => m.op === 'placed').length === 40 ? true : undefined));
    const answers = stream.received.slice(from).filter((m) => m.op === 'placed');
    const idOf = new Map(answers.map((m) => [m.id, BigInt((m.order as { id: string }).id)]));
    for (let i = 1; i < 40; i++) expect(idOf.get(i)! > idOf.get(i - 1)!).toBe(true);

    // Time priority follows the order sent: a sell of 3 lots' worth fills burst-0..2.
    await t.http.post('/v1/orders').set(bearer(p.key)).send({ instrument: symbol, side: 'sell', type: 'limit', price: '0.300', quantity: 3_000_000 }).expect(201);
    const filled: Array<{ client_order_id: string }> = await t.dataSource.query(
      `SELECT client_order_id FROM orders WHERE participant_id = $1 AND status = 'filled' ORDER BY id`,
      [b.id],
    );
    expect(filled.map((o) => o.client_order_id)).toEqual(['burst-0', 'burst-1', 'burst-2']);
    stream.close();
  });

  test('refusals are answers with the id, the status and the field; they never close the connection', async () => {
    const b = await fundedBuyer(t, '1');
    const other = await fundedBuyer(t, '10');
    const foreign = (await t.http.post('/v1/orders').set(bearer(other.key)).send(bid('0.100')).expect(201)).body;
    const stream = await streamOf(b);
    const cases: Array<[object, number, string, string?]> = [
      [{ op: 'place', id: 'a', ...bid('0.4x') }, 400, 'VALIDATION_FAILED', 'price'],
      [{ op: 'place', id: 'b', ...bid('0.400', { colour: 'red' }) }, 400, 'VALIDATION_FAILED', 'colour'],
      [{ op: 'place', id: 'c', ...bid('0.400', { quantity: null }) }, 400, 'VALIDATION_FAILED', 'quantity'],
      [{ op: 'place', id: 'd', ...bid('5.000') }, 422, 'INSUFFICIENT_FUNDS'],
      [{ op: 'place', id: 'e', ...bid('0.400', { side: 'sell' }) }, 403, 'ROLE_REQUIRED'],
      [{ op: 'place', id: 'f', ...bid('0.400', { instrument: 'NO-SUCH-SPOT' }) }, 404, 'INSTRUMENT_NOT_FOUND'],
      [{ op: 'cancel', id: 'g', orderId: foreign.id }, 404, 'ORDER_NOT_FOUND'],
      [{ op: 'amend', id: 'h', orderId: foreign.id, price: '0.200' }, 404, 'ORDER_NOT_FOUND'],
      [{ op: 'cancel', id: 'i' }, 400, 'VALIDATION_FAILED', 'orderId'],
      [{ op: 'amend', id: 'j', orderId: 'x1', price: '0.200' }, 400, 'VALIDATION_FAILED', 'orderId'],
    ];
    // Three times over: more refusals than the twenty protocol errors that close a connection.
    for (let round = 0; round < 3; round++) {
      for (const [message, statusCode, code, field] of cases) {
        const answer = await ask(stream, { ...(message as { op: string; id: string }), id: `${(message as { id: string }).id}${round}` });
        expect(answer).toMatchObject({ op: 'error', statusCode, code });
        if (field) expect((answer.details as { fields: string[] }).fields).toContain(field);
      }
    }
    expect(stream.closed).toBeUndefined();
    expect(await orderRow(foreign.id)).toMatchObject({ status: 'open', price_ticks: 100 });
    const [{ count }] = await t.dataSource.query(`SELECT count(*)::int AS count FROM orders WHERE participant_id = $1`, [b.id]);
    expect(count).toBe(0);
    stream.close();
  });

  test('order entry needs a key, a trading role and an id', async () => {
    const anonymous = await StreamClient.open(baseUrl);
    expect(await ask(anonymous, { op: 'place', id: 1, ...bid('0.100') })).toMatchObject({ op: 'error', id: 1, statusCode: 401, code: 'AUTH_REQUIRED' });
    anonymous.close();

    const admin = await createParticipant(t, ['admin']);
    const adminStream = await streamOf(admin);
    expect(await ask(adminStream, { op: 'place', id: 2, ...bid('0.100') })).toMatchObject({ op: 'error', statusCode: 403, code: 'ROLE_REQUIRED' });
    adminStream.close();

    const b = await fundedBuyer(t, '10');
    const stream = await streamOf(b);
    const from = stream.received.length;
    stream.send({ op: 'place', ...bid('0.100') });
    expect(await stream.next('the refusal', (m) => m.op === 'error', from)).toMatchObject({ code: 'INVALID_MESSAGE', message: 'id is required on place: the answer carries it' });
    stream.close();
  });

  test("a participant's orders and fills stay on its own private channels; another cannot touch them", async () => {
    const b = await fundedBuyer(t, '10');
    const spy = await fundedBuyer(t, '10');
    const mine = await streamOf(b);
    const theirs = await streamOf(spy);
    for (const s of [mine, theirs]) expect(await s.request({ op: 'subscribe', channel: 'orders' }, 'subscribed')).toMatchObject({ op: 'subscribed' });

    const fromMine = mine.received.length;
    const fromTheirs = theirs.received.length;
    const placed = await ask(mine, { op: 'place', id: 'own', ...bid('0.120', { clientOrderId: 'private-1' }) });
    const id = (placed.order as { id: string }).id;
    await mine.next('the orders frame', (m) => m.channel === 'orders' && JSON.stringify(m).includes(id), fromMine);
    expect(await ask(theirs, { op: 'cancel', id: 'steal', orderId: id })).toMatchObject({ op: 'error', statusCode: 404, code: 'ORDER_NOT_FOUND' });
    expect(await ask(theirs, { op: 'cancel', id: 'steal-2', clientOrderId: 'private-1' })).toMatchObject({ op: 'error', statusCode: 404 });
    expect(theirs.received.slice(fromTheirs).filter((m) => JSON.stringify(m).includes(id))).toEqual([]);
    expect(await orderRow(id)).toMatchObject({ status: 'open' });
    mine.close();
    theirs.close();
  });
});
