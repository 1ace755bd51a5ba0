import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { BookReplica, type BookUpdate } from '../../src/market-data/book-replica.js';
import { fundedBuyer, fundedProvider, listSpotInstrument } from '../support/market-fixtures.js';
import { type Message, StreamClient } from '../support/stream-client.js';
import { bearer, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';

// Default grid: tick 0.001 USD/MTok, lot 1,000 tokens, so notional in micro-USD = price ticks × lots.
let t: TestApp;
let baseUrl: string;
/** A stream client on this test's service. */
const openStream = (headers?: Record<string, string>) => StreamClient.open(baseUrl, headers);

const listInstrument = () => listSpotInstrument(t, 'md');
const buyer = () => fundedBuyer(t);
const provider = (modelClassId: string) => fundedProvider(t, modelClassId);

/** A data message of the channel (acknowledgements carry `op` and the channel too). */
const isData = (channel: string) => (m: Message) => m.op === undefined && m.channel === channel;
const order = (who: TestParticipant, symbol: string, body: object) => t.http.post('/v1/orders').set(bearer(who.key)).send({ instrument: symbol, ...body });
const restBook = async (symbol: string) => (await t.http.get(`/v1/markets/${symbol}/book?depth=1000`).expect(200)).body;

beforeAll(async () => {
  t = await startTestApp();
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = await t.app.getUrl();
});
afterAll(async () => {
  await t.close();
});

describe('REST market data', () => {
  let symbol: string;
  let seller: TestParticipant;
  let bidder: TestParticipant;

  beforeAll(async () => {
    const listed = await listInstrument();
    symbol = listed.symbol;
    seller = await provider(listed.modelClassId);
    bidder = await buyer();
    await order(seller, symbol, { side: 'sell', type: 'limit', price: '0.500', quantity: 2_000_000 }).expect(201);
    await order(seller, symbol, { side: 'sell', type: 'limit', price: '0.520', quantity: 1_000_000 }).expect(201);
    await order(seller, symbol, { side: 'sell', type: 'limit', price: '0.520', quantity: 1_000_000 }).expect(201);
    await order(bidder, symbol, { side: 'buy', type: 'limit', price: '0.400', quantity: 3_000_000 }).expect(201);
    await order(bidder, symbol, { side: 'buy', type: 'limit', price: '0.450', quantity: 1_000_000 }).expect(201);
  });

  test('the book aggregates levels, best first, limited by depth', async () => {
    const book = await t.http.get(`/v1/markets/${symbol}/book`).expect(200);
    expect(book.body).toEqual({
      instrument: symbol,
      sequence: 5,
      bids: [
        { price: '0.450', quantity: 1_000_000, orders: 1 },
        { price: '0.400', quantity: 3_000_000, orders: 1 },
      ],
      asks: [
        { price: '0.500', quantity: 2_000_000, orders: 1 },
        { price: '0.520', quantity: 2_000_000, orders: 2 },
      ],
    });
    const top = await t.http.get(`/v1/markets/${symbol}/book?depth=1`).expect(200);
    expect(top.body).toMatchObject({ bids: [{ price: '0.450' }], asks: [{ price: '0.500' }] });
  });

  test('trades, ticker and candles, to the micro-dollar', async () => {
    // A buy of 3,000,000 at up to 0.520 takes 2,000,000 at 0.500 and 1,000,000 at 0.520.
    await order(bidder, symbol, { side: 'buy', type: 'limit', price: '0.520', quantity: 3_000_000 }).expect(201);
    // A sell of 1,000,000 at 0.450 takes the best bid.
    await order(seller, symbol, { side: 'sell', type: 'limit', price: '0.450', quantity: 1_000_000, timeInForce: 'IOC' }).expect(201);

    const trades = await t.http.get(`/v1/markets/${symbol}/trades`).expect(200);
    expect(trades.body.items.map((x: Record<string, unknown>) => [x.price, x.quantity, x.takerSide])).toEqual([
      ['0.450', 1_000_000, 'sell'],
      ['0.520', 1_000_000, 'buy'],
      ['0.500', 2_000_000, 'buy'],
    ]);
    expect(Object.keys(trades.body.items[0]).sort()).toEqual(['id', 'price', 'quantity', 'takerSide', 'time']);
    expect(trades.body.nextCursor).toBeNull();
    const first = await t.http.get(`/v1/markets/${symbol}/trades?limit=2`).expect(200);
    expect(first.body.items).toEqual(trades.body.items.slice(0, 2));
    const second = await t.http.get(`/v1/markets/${symbol}/trades?limit=2&cursor=${first.body.nextCursor}`).expect(200);
    expect(second.body).toEqual({ items: trades.body.items.slice(2), nextCursor: null });

    const book = await restBook(symbol);
    const ticker = await t.http.get(`/v1/markets/${symbol}/ticker`).expect(200);
    expect(ticker.body).toEqual({
      instrument: symbol,
      sequence: book.sequence,
      lastPrice: '0.450',
      bestBid: { price: '0.400', quantity: 3_000_000, orders: 1 },
      bestAsk: { price: '0.520', quantity: 1_000_000, orders: 1 },
      open24h: '0.500',
      high24h: '0.520',
      low24h: '0.450',
      change24h: '-0.050',
      volume24h: 4_000_000,
      notional24h: '1.970000', // 1.000000 + 0.520000 + 0.450000
      trades24h: 3,
    });

    // Candles are bucketed by trade time: move the trades to known minutes (in seq order, as written).
    const t0 = Date.parse('2025-06-01T10:00:00Z');
    const fills: Array<{ id: string; seq: string }> = await t.dataSource.query(`SELECT id, seq FROM fills WHERE instrument = $1 ORDER BY seq`, [symbol]);
    const buySeq = fills[0].seq;
    await t.dataSource.query(
      `UPDATE fills SET created_at = CASE WHEN seq = $2 THEN $3::timestamptz ELSE $4::timestamptz END WHERE instrument = $1`,
      [symbol, buySeq, new Date(t0 + 10_000).toISOString(), new Date(t0 + 70_000).toISOString()],
    );
    const iso = (ms: number) => new Date(ms).toISOString();
    const minutes = await t.http.get(`/v1/markets/${symbol}/candles?interval=1m&from=${iso(t0)}&to=${iso(t0 + 300_000)}`).expect(200);
    expect(minutes.body).toEqual({
      instrument: symbol,
      interval: '1m',
      items: [
        { time: iso(t0), open: '0.500', high: '0.520', low: '0.500', close: '0.520', volume: 3_000_000, notional: '1.520000', trades: 2 },
        { time: iso(t0 + 60_000), open: '0.450', high: '0.450', low: '0.450', close: '0.450', volume: 1_000_000, notional: '0.450000', trades: 1 },
      ],
    });
    // A `from` inside a bucket starts at that bucket; without `from`, the `limit` buckets up to `to`.
    const hour = await t.http.get(`/v1/markets/${symbol}/candles?interval=1h&from=${iso(t0 + 1_800_000)}`).expect(200);
    expect(hour.body.items).toEqual([
      { time: iso(t0), open: '0.500', high: '0.520', low: '0.450', close: '0.450', volume: 4_000_000, notional: '1.970000', trades: 3 },
    ]);
    const last = await t.http.get(`/v1/markets/${symbol}/candles?interval=1m&to=${iso(t0 + 120_000)}&limit=1`).expect(200);
    expect(last.body.items.map((c: { time: string }) => c.time)).toEqual([iso(t0 + 60_000)]);
    const none = await t.http.get(`/v1/markets/${symbol}/candles?interval=1d`).expect(200);
    expect(none.body.items.every((c: { time: string }) => c.time < iso(t0 + 86_400_000))).toBe(true);
    // Outside the last 24 h now: the ticker keeps the last price but no day figures.
    const aged = await t.http.get(`/v1/markets/${symbol}/ticker`).expect(200);
    expect(aged.body).toMatchObject({ lastPrice: '0.450', open24h: null, change24h: null, volume24h: 0, notional24h: '0.000000', trades24h: 0 });
  });

  const bad: Array<[string, string, string]> = [
    ['depth 0', 'book?depth=0', 'depth'],
    ['depth above 1000', 'book?depth=1001', 'depth'],
    ['depth not a number', 'book?depth=ten', 'depth'],
    ['trades limit 0', 'trades?limit=0', 'limit'],
    ['a cursor not ours', 'trades?cursor=abc', 'cursor'],
    ['no interval', 'candles', 'interval'],
    ['unknown interval', 'candles?interval=2m', 'interval'],
    ['candle limit above 1000', 'candles?interval=1m&limit=1001', 'limit'],
    ['from not a timestamp', 'candles?interval=1m&from=yesterday', 'from'],
    ['to without a zone', 'candles?interval=1m&to=2026-01-01T00:00:00', 'to'],
    ['from after to', 'candles?interval=1m&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'from'],
    ['an unknown parameter', 'book?levels=5', 'levels'],
  ];
  test.each(bad)('%s is a 400 naming the field', async (_, path, field) => {
    const response = await t.http.get(`/v1/markets/${symbol}/${path}`).expect(400);
    expect(response.body.message).toContain(field);
  });

  test.each(['book', 'trades', 'ticker', 'candles?interval=1h'])('an unknown instrument is a 404 on %s', async (path) => {
    const response = await t.http.get(`/v1/markets/NOPE-SPOT/${path}`).expect(404);
    expect(response.body.code).toBe('INSTRUMENT_NOT_FOUND');
    await t.http.get(`/v1/markets/not-a-symbol/${path}`).expect(400);
  });
});

describe('WS /v1/stream', () => {
  let symbol: string;
  let modelClassId: string;

  // A fresh book per test: what one test leaves resting must not trade with the next.
  beforeEach(async () => {
    ({ symbol, modelClassId } = await listInstrument());
  });

  test('a book snapshot plus its deltas, applied in sequence, is the REST book', async () => {
    const seller = await provider(modelClassId);
    const bidder = await buyer();
    await order(seller, symbol, { side: 'sell', type: 'limit', price: '0.300', quantity: 1_000_000 }).expect(201);

    const early = await openStream();
    expect(await early.request({ op: 'subscribe', channel: 'book', instrument: symbol, id: 1 }, 'subscribed')).toEqual({
      op: 'subscribed', channel: 'book', instrument: symbol, id: 1,
    });
    const snapshot = await early.next('a snapshot', (m) => m.type === 'snapshot');
    expect(snapshot).toMatchObject({ channel: 'book', instrument: symbol, seq: 1, bids: [], asks: [{ price: '0.300', quantity: 1_000_000, orders: 1 }] });

    // Orders in flight while a second client subscribes: its snapshot must still line up with its deltas.
    const late = await openStream();
    const traffic = [
      ...['0.310', '0.320', '0.330'].map((price) => order(seller, symbol, { side: 'sell', type: 'limit', price, quantity: 2_000_000 })),
      ...['0.250', '0.260', '0.270'].map((price) => order(bidder, symbol, { side: 'buy', type: 'limit', price, quantity: 1_000_000 })),
    ];
    late.send({ op: 'subscribe', channel: 'book', instrument: symbol });
    await Promise.all(traffic.map((r) => r.expect(201)));
    // Trades, a partial fill, an amend and a cancel.
    await order(bidder, symbol, { side: 'buy', type: 'limit', price: '0.315', quantity: 4_000_000 }).expect(201);
    const resting = await order(bidder, symbol, { side: 'buy', type: 'limit', price: '0.200', quantity: 1_000_000 }).expect(201);
    await t.http.patch(`/v1/orders/${resting.body.id}`).set(bearer(bidder.key)).send({ price: '0.210' }).expect(200);
    await t.http.delete(`/v1/orders/${resting.body.id}`).set(bearer(bidder.key)).expect(200);

    const rest = await restBook(symbol);
    for (const client of [early, late]) {
      await client.next(`the delta of sequence ${rest.sequence}`, (m) => m.type === 'delta' && m.seq === rest.sequence);
      const snap = client.received.find((m) => m.type === 'snapshot')!;
      const replica = new BookReplica({ sequence: snap.seq!, bids: snap.bids as never, asks: snap.asks as never });
      const outcomes = client.received.filter((m) => m.type === 'delta').map((m) => replica.apply(m as unknown as BookUpdate));
      expect(outcomes).not.toContain('gap');
      expect(replica.view()).toEqual({ sequence: rest.sequence, bids: rest.bids, asks: rest.asks });
    }
    // Every batch is published, so the early client saw an unbroken chain from its snapshot on.
    const deltas = early.received.filter((m) => m.type === 'delta');
    deltas.forEach((d, i) => expect(d.previousSeq).toBe(i === 0 ? snapshot.seq : deltas[i - 1].seq));
    expect(deltas.at(-1)!.seq).toBe(rest.sequence);
    early.close();
    late.close();
  });

  test('trades and ticker follow each batch that trades', async () => {
    const seller = await provider(modelClassId);
    const bidder = await buyer();
    const client = await openStream();
    await client.request({ op: 'subscribe', channel: 'trades', instrument: symbol }, 'subscribed');
    await client.request({ op: 'subscribe', channel: 'ticker', instrument: symbol }, 'subscribed');
    const initial = await client.next('the first ticker', isData('ticker'));
    expect(initial).toMatchObject({ instrument: symbol, sequence: (await restBook(symbol)).sequence });

    await order(bidder, symbol, { side: 'buy', type: 'limit', price: '0.600', quantity: 2_000_000 }).expect(201);
    const from = client.received.length;
    const sold = await order(seller, symbol, { side: 'sell', type: 'limit', price: '0.600', quantity: 2_000_000 }).expect(201);
    const trades = await client.next('the trade', isData('trades'), from);
    expect(trades).toEqual({
      channel: 'trades',
      instrument: symbol,
      seq: expect.any(Number),
      trades: [{ id: sold.body.fills[0].id, price: '0.600', quantity: 2_000_000, takerSide: 'sell', time: sold.body.fills[0].createdAt }],
    });
    const ticker = await client.next('the ticker after the trade', (m) => isData('ticker')(m) && m.lastPrice === '0.600', from);
    const rest = (await t.http.get(`/v1/markets/${symbol}/ticker`).expect(200)).body;
    expect(ticker).toEqual({ channel: 'ticker', ...rest });
    client.close();
  });

  test('private channels carry only the caller\'s orders and fills, and need a key', async () => {
    const seller = await provider(modelClassId);
    const alice = await buyer();
    const carol = await buyer();
    const anonymous = await openStream();
    expect(await anonymous.request({ op: 'subscribe', channel: 'orders' }, 'subscribed')).toMatchObject({ op: 'error', code: 'AUTH_REQUIRED' });
    expect(await anonymous.request({ op: 'auth', apiKey: 'tkx_not_a_key' }, 'authenticated')).toMatchObject({ op: 'error', code: 'INVALID_API_KEY' });
    expect(await anonymous.request({ op: 'subscribe', channel: 'fills' }, 'subscribed')).toMatchObject({ op: 'error', code: 'AUTH_REQUIRED' });

    // Alice authenticates at the upgrade, Carol with a message.
    const a = await openStream(bearer(alice.key));
    await a.next('authenticated', (m) => m.op === 'authenticated');
    const c = await openStream();
    expect(await c.request({ op: 'auth', apiKey: carol.key }, 'authenticated')).toMatchObject({ participantId: carol.id });
    for (const client of [a, c]) {
      for (const channel of ['orders', 'fills']) expect(await client.request({ op: 'subscribe', channel }, 'subscribed')).toMatchObject({ op: 'subscribed', channel });
    }

    const bid = await order(alice, symbol, { side: 'buy', type: 'limit', price: '0.700', quantity: 3_000_000 }).expect(201);
    await order(seller, symbol, { side: 'sell', type: 'limit', price: '0.700', quantity: 1_000_000 }).expect(201);
    const fill = await a.next('Alice\'s fill', isData('fills'));
    expect(fill).toEqual({
      channel: 'fills',
      instrument: symbol,
      seq: expect.any(Number),
      fills: [expect.objectContaining({ orderId: bid.body.id, side: 'buy', liquidity: 'maker', price: '0.700', quantity: 1_000_000, notional: '0.700000', fee: '0.000000' })],
    });
    await a.next('Alice\'s partly filled order', (m) => isData('orders')(m) && (m.orders as Array<{ id: string; filledQuantity: number }>).some((o) => o.id === bid.body.id && o.filledQuantity === 1_000_000));

    // Carol's own order is the last thing she hears of; nothing of Alice's or the seller's before it.
    const own = await order(carol, symbol, { side: 'buy', type: 'limit', price: '0.100', quantity: 1_000_000 }).expect(201);
    await c.next('Carol\'s order', isData('orders'));
    const carolSaw = c.received.filter((m) => m.op === undefined);
    expect(carolSaw).toEqual([{ channel: 'orders', instrument: symbol, seq: expect.any(Number), orders: [expect.objectContaining({ id: own.body.id, status: 'open' })] }]);
    expect(a.received.flatMap((m) => (m.orders as Array<{ id: string }> | undefined) ?? []).every((o) => o.id === bid.body.id)).toBe(true);
    for (const client of [anonymous, a, c]) client.close();
  });

  test('bad messages get an error frame and the connection stays open, until it is abuse', async () => {
    const client = await openStream();
    const cases: Array<[object | string, string]> = [
      ['not json', 'INVALID_MESSAGE'],
      ['[1,2]', 'INVALID_MESSAGE'],
      [{ op: 'dance' }, 'UNKNOWN_OP'],
      [{ op: 'subscribe', channel: 'gossip', instrument: symbol }, 'UNKNOWN_CHANNEL'],
      [{ op: 'subscribe', channel: 'book' }, 'INVALID_MESSAGE'],
      [{ op: 'subscribe', channel: 'book', instrument: symbol, depth: 5 }, 'INVALID_MESSAGE'],
      [{ op: 'subscribe', channel: 'book', instrument: 'NOPE-SPOT' }, 'INSTRUMENT_NOT_FOUND'],
      [{ op: 'subscribe', channel: 'trades', instrument: 'NOPE-SPOT' }, 'INSTRUMENT_NOT_FOUND'],
    ];
    for (const [message, code] of cases) {
      const from = client.received.length;
      client.send(message);
      expect(await client.next(code, (m) => m.op === 'error', from)).toMatchObject({ op: 'error', code, message: expect.any(String) });
    }
    // Still open and serving.
    expect(await client.request({ op: 'subscribe', channel: 'trades', instrument: symbol }, 'subscribed')).toMatchObject({ op: 'subscribed' });
    expect(await client.request({ op: 'unsubscribe', channel: 'trades', instrument: symbol }, 'unsubscribed')).toMatchObject({ op: 'unsubscribed' });
    for (let i = 0; i < 20; i++) client.send('garbage');
    expect(await client.waitClosed()).toEqual({ code: 1008 });
  });
});

describe('the spot index', () => {
  test("is the last hour's VWAP of the spot trades, else the last trade, with hourly history", async () => {
    const { symbol, modelClassId } = await listInstrument();
    const empty = await t.http.get(`/v1/index/${modelClassId}`).expect(200);
    expect(empty.body).toMatchObject({ modelClass: modelClassId, instrument: symbol, price: null, method: null, history: [] });

    const b = await buyer();
    const p = await provider(modelClassId);
    // 1,000,000 tokens at 0.400 and 3,000,000 at 0.500: VWAP 0.475.
    await order(p, symbol, { side: 'sell', type: 'limit', price: '0.400', quantity: 1_000_000 }).expect(201);
    await order(b, symbol, { side: 'buy', type: 'limit', price: '0.400', quantity: 1_000_000 }).expect(201);
    await order(p, symbol, { side: 'sell', type: 'limit', price: '0.500', quantity: 3_000_000 }).expect(201);
    await order(b, symbol, { side: 'buy', type: 'limit', price: '0.500', quantity: 3_000_000 }).expect(201);
    const index = await t.http.get(`/v1/index/${modelClassId}?hours=2`).expect(200);
    expect(index.body).toMatchObject({ price: '0.475', method: 'vwap_1h' });
    expect(index.body.history).toEqual([expect.objectContaining({ price: '0.475', volume: 4_000_000 })]);

    // Trades older than an hour leave the last trade as the index.
    await t.dataSource.query(`UPDATE fills SET created_at = created_at - interval '2 hours' WHERE instrument = $1`, [symbol]);
    const stale = await t.http.get(`/v1/index/${modelClassId}`).expect(200);
    expect(stale.body).toMatchObject({ price: '0.500', method: 'last_trade' });
  });

  test('bad or unknown model classes are refused', async () => {
    const bad = await t.http.get('/v1/index/Not_A_Class').expect(400);
    expect(bad.body.message).toContain('modelClass');
    const unknown = await t.http.get('/v1/index/no-such-class').expect(404);
    expect(unknown.body.code).toBe('INDEX_NOT_FOUND');
    const hours = await t.http.get('/v1/index/no-such-class?hours=500').expect(400);
    expect(hours.body.message).toContain('hours');
  });
});
