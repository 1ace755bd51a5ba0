import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { fundedBuyer, listSpotInstrument } from '../support/market-fixtures.js';
import { type Message, StreamClient } from '../support/stream-client.js';
import { bearer, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';

// Issue 14 item 4: a revoked key or a suspended participant loses its stream's private channels,
// at once when this process made the change, within API_KEY_CACHE_TTL_MS when another did.
const KEY_CACHE_TTL_MS = 300;
let t: TestApp;
let baseUrl: string;
let symbol: string;

beforeAll(async () => {
  t = await startTestApp({ API_KEY_CACHE_TTL_MS: String(KEY_CACHE_TTL_MS) });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = await t.app.getUrl();
  ({ symbol } = await listSpotInstrument(t, 'rev'));
});
afterAll(async () => {
  await t.close();
});

const isData = (channel: string) => (m: Message) => m.op === undefined && m.channel === channel;

/** A buyer with a second key, and a stream authenticated with the first, following its orders and the book. */
async function followingOwnOrders(): Promise<{ who: TestParticipant; spareKey: string; stream: StreamClient }> {
  const who = await fundedBuyer(t, '10');
  const spare = await t.http.post(`/v1/participants/${who.id}/api-keys`).set(bearer(who.key)).send({}).expect(201);
  const stream = await StreamClient.open(baseUrl);
  expect(await stream.request({ op: 'auth', apiKey: who.key }, 'authenticated')).toMatchObject({ op: 'authenticated' });
  for (const channel of ['orders', 'fills']) expect(await stream.request({ op: 'subscribe', channel }, 'subscribed')).toMatchObject({ op: 'subscribed' });
  expect(await stream.request({ op: 'subscribe', channel: 'book', instrument: symbol }, 'subscribed')).toMatchObject({ op: 'subscribed' });
  return { who, spareKey: spare.body.key, stream };
}

/** After the private channels closed: an order placed with another key shows on the book, and never on the closed channel. */
async function seesNoMoreOrders(stream: StreamClient, key: string): Promise<void> {
  const from = stream.received.length;
  const placed = await t.http.post('/v1/orders').set(bearer(key)).send({ instrument: symbol, side: 'buy', type: 'limit', price: '0.100', quantity: 1_000_000 }).expect(201);
  await stream.next('the order on the book', (m) => isData('book')(m) && JSON.stringify(m).includes('"0.100"'), from);
  // A request's answer comes after everything sent before it: the orders frame of that batch would be here by now.
  await stream.request({ op: 'subscribe', channel: 'trades', instrument: symbol }, 'subscribed');
  expect(stream.received.slice(from).filter((m) => isData('orders')(m) || isData('fills')(m))).toEqual([]);
  expect(placed.body.status).toBe('open');
  expect(await stream.request({ op: 'subscribe', channel: 'orders' }, 'subscribed')).toMatchObject({ op: 'error', code: 'AUTH_REQUIRED' });
  // Nor can it trade on the connection any more.
  const refused = await stream.request({ op: 'place', id: 'after', instrument: symbol, side: 'buy', type: 'limit', price: '0.100', quantity: 1_000_000 }, 'placed');
  expect(refused).toMatchObject({ op: 'error', id: 'after', statusCode: 401, code: 'AUTH_REQUIRED' });
}

const closedFrames = (stream: StreamClient, code: string) =>
  stream.next(`the ${code} frame`, (m) => m.op === 'error' && m.code === code).then(async (frame) => {
    await stream.next('fills unsubscribed', (m) => m.op === 'unsubscribed' && m.channel === 'fills');
    return frame;
  });

describe('the stream after a revocation or a suspension', () => {
  test('a key revoked in this process: the private channels close at once, public ones stay', async () => {
    const { who, spareKey, stream } = await followingOwnOrders();
    const [{ id: keyId }] = await t.dataSource.query(`SELECT id FROM api_keys WHERE participant_id = $1 ORDER BY created_at LIMIT 1`, [who.id]);
    await t.http.delete(`/v1/api-keys/${keyId}`).set(bearer(spareKey)).expect(200);
    const frame = await closedFrames(stream, 'API_KEY_REVOKED');
    expect(frame.message).toMatch(/revoked.*private channels/);
    await seesNoMoreOrders(stream, spareKey);
    stream.close();
  });

  test('a participant suspended: its stream loses its private channels', async () => {
    const { who, stream } = await followingOwnOrders();
    await t.http.post(`/v1/admin/participants/${who.id}/suspend`).set(bearer(t.adminKey)).send({ reason: 'test' }).expect(200);
    expect((await closedFrames(stream, 'PARTICIPANT_SUSPENDED')).message).toMatch(/suspended/);
    stream.close();
  });

  test('a key revoked by another API process (nothing tells this one): closed within the key cache TTL', async () => {
    const { who, spareKey, stream } = await followingOwnOrders();
    await t.dataSource.query(
      `UPDATE api_keys SET revoked_at = now() WHERE id = (SELECT id FROM api_keys WHERE participant_id = $1 ORDER BY created_at LIMIT 1)`,
      [who.id],
    );
    // Re-checked every TTL (300 ms here); the wait's bound (5 s) only leaves room for a loaded machine.
    await closedFrames(stream, 'API_KEY_REVOKED');
    await seesNoMoreOrders(stream, spareKey);
    stream.close();
  });
});
