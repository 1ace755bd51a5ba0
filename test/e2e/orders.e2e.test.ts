import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { MarketsService } from '../../src/markets/markets.service.js';
import { BookGateway } from '../../src/orders/book-gateway.js';
import { loadBook } from '../../src/orders/book-loader.js';
import { readOwnedOrder } from '../../src/orders/order-reads.js';
import { SPOT_PRODUCT } from '../../src/orders/products.js';
import { OrderExpiryJob } from '../../src/orders/order-expiry.job.js';
import { fundedBuyer, fundedProvider, listSpotInstrument } from '../support/market-fixtures.js';
import { balancesOf, bearer, createParticipant, deposit, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';
import { waitFor } from '../support/wait-for.js';

// Default grid: tick 0.001 USD/MTok, lot 1,000 tokens, so notional in micro-USD = price ticks × lots;
// taker fee 10 bps, maker fee 0, seller bond 10 % of notional.
let t: TestApp;
let modelClassId: string;
let symbol: string;

async function listInstrument(): Promise<void> {
  ({ symbol, modelClassId } = await listSpotInstrument(t, 'ord'));
}

beforeAll(async () => {
  t = await startTestApp();
  await listInstrument();
});
afterAll(async () => {
  await t.close();
});

// Whatever a test did, the ledger is balanced and equal to a rebuild from its transfers.
afterEach(async () => {
  const audit = await t.http.post('/v1/admin/ledger/audit').set(bearer(t.adminKey)).expect(200);
  expect(audit.body).toMatchObject({ sound: true, trialBalance: { balanced: true } });
});

const buyer = (cash = '1000') => fundedBuyer(t, cash);
const provider = (tokensPerSecond = 1_000_000, cash = '1000') => fundedProvider(t, modelClassId, { tokensPerSecond, cash });

const order = (who: TestParticipant, body: object) => t.http.post('/v1/orders').set(bearer(who.key)).send({ instrument: symbol, ...body });

describe('placing and matching', () => {
  test('a resting buy holds its notional and the taker fee, to the micro-dollar', async () => {
    const b = await buyer('10');
    // 0.450 USD/MTok × 2,000,000 tokens = 0.900000 USD; taker fee 10 bps = 0.000900.
    const placed = await order(b, { side: 'buy', type: 'limit', price: '0.450', quantity: 2_000_000 }).expect(201);
    expect(placed.body).toMatchObject({
      instrument: symbol,
      side: 'buy',
      type: 'limit',
      timeInForce: 'GTC',
      price: '0.450',
      quantity: 2_000_000,
      filledQuantity: 0,
      remainingQuantity: 2_000_000,
      status: 'open',
      hold: '0.900900',
      fees: '0.000000',
      fills: [],
    });
    expect(await balancesOf(t, b)).toMatchObject({ available: '9.099100', held: '0.900900' });
  });

  test('a crossing sell trades at the maker price; the buyer pays escrow and fee, the excess hold is released', async () => {
    const b = await buyer('10');
    const p = await provider();
    const bid = await order(b, { side: 'buy', type: 'limit', price: '0.500', quantity: 3_000_000 }).expect(201);
    // The provider sells 2,000,000 tokens at 0.400 or better: it takes the bid at 0.500 (the maker's price).
    const sold = await order(p, { side: 'sell', type: 'limit', price: '0.400', quantity: 2_000_000 }).expect(201);
    expect(sold.body).toMatchObject({ status: 'filled', filledQuantity: 2_000_000, remainingQuantity: 0 });
    expect(sold.body.fills).toEqual([
      expect.objectContaining({ side: 'sell', liquidity: 'taker', price: '0.500', quantity: 2_000_000, notional: '1.000000', fee: '0.001000' }),
    ]);
    // Buyer: 1.000000 to escrow, maker fee 0; the open 1,000,000 still holds 0.500000 + 0.000500.
    expect(await balancesOf(t, b)).toMatchObject({ held: '0.500500', escrow: '1.000000', available: '8.499500' });
    const read = await t.http.get(`/v1/orders/${bid.body.id}`).set(bearer(b.key)).expect(200);
    expect(read.body).toMatchObject({ status: 'open', filledQuantity: 2_000_000, remainingQuantity: 1_000_000, hold: '0.500500' });
    expect(read.body.fills).toEqual([expect.objectContaining({ liquidity: 'maker', fee: '0.000000', notional: '1.000000' })]);
    // Provider: the sell's bond (10 % of 2,000,000 tokens at its 0.400 limit) stays with the sold tokens.
    expect(await balancesOf(t, p)).toMatchObject({ bond: '0.080000', available: '999.920000' });
    const ownFills = await t.http.get(`/v1/fills?instrument=${symbol}`).set(bearer(p.key)).expect(200);
    expect(ownFills.body.items).toHaveLength(1);
  });

  test('cancelling releases the whole hold; amending the price moves it', async () => {
    const b = await buyer('10');
    const placed = await order(b, { side: 'buy', type: 'limit', price: '0.100', quantity: 1_000_000 }).expect(201);
    expect(placed.body.hold).toBe('0.100100');
    const amended = await t.http.patch(`/v1/orders/${placed.body.id}`).set(bearer(b.key)).send({ price: '0.200' }).expect(200);
    expect(amended.body).toMatchObject({ price: '0.200', hold: '0.200200' });
    expect(await balancesOf(t, b)).toMatchObject({ available: '9.799800', held: '0.200200' });
    const cancelled = await t.http.delete(`/v1/orders/${placed.body.id}`).set(bearer(b.key)).expect(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', closeReason: 'user', hold: '0.000000' });
    expect(await balancesOf(t, b)).toMatchObject({ available: '10.000000', held: '0.000000' });
    await t.http.delete(`/v1/orders/${placed.body.id}`).set(bearer(b.key)).expect(404);
  });

  test('IOC leaves no rest, FOK fills all or nothing, post-only never takes', async () => {
    const b = await buyer('10');
    const p = await provider();
    await order(p, { side: 'sell', type: 'limit', price: '0.700', quantity: 1_000_000 }).expect(201);
    const ioc = await order(b, { side: 'buy', type: 'limit', price: '0.700', quantity: 3_000_000, timeInForce: 'IOC' }).expect(201);
    expect(ioc.body).toMatchObject({ status: 'cancelled', closeReason: 'ioc', filledQuantity: 1_000_000, hold: '0.000000' });
    await order(p, { side: 'sell', type: 'limit', price: '0.700', quantity: 1_000_000 }).expect(201);
    const fok = await order(b, { side: 'buy', type: 'limit', price: '0.700', quantity: 2_000_000, timeInForce: 'FOK' }).expect(422);
    expect(fok.body.code).toBe('FOK_NOT_FILLABLE');
    const postOnly = await order(b, { side: 'buy', type: 'limit', price: '0.700', quantity: 1_000_000, postOnly: true }).expect(422);
    expect(postOnly.body.code).toBe('POST_ONLY_WOULD_TAKE');
    // Refused orders hold nothing: only the IOC's fill moved money.
    expect(await balancesOf(t, b)).toMatchObject({ held: '0.000000', escrow: '0.700000', available: '9.299300' });
    await t.http.delete('/v1/orders').set(bearer(p.key)).expect(200);
  });

  test('a market buy fills within the collar and holds at the collar limit while it matches', async () => {
    const b = await buyer('10');
    const p = await provider();
    await order(p, { side: 'sell', type: 'limit', price: '1.000', quantity: 1_000_000 }).expect(201);
    await order(b, { side: 'buy', type: 'limit', price: '1.000', quantity: 1_000_000 }).expect(201); // last trade: 1.000
    await order(p, { side: 'sell', type: 'limit', price: '1.050', quantity: 1_000_000 }).expect(201);
    await order(p, { side: 'sell', type: 'limit', price: '1.200', quantity: 1_000_000 }).expect(201); // beyond +10 %
    const market = await order(b, { side: 'buy', type: 'market', quantity: 2_000_000 }).expect(201);
    expect(market.body).toMatchObject({ timeInForce: 'IOC', status: 'cancelled', closeReason: 'collar', filledQuantity: 1_000_000, hold: '0.000000' });
    expect(market.body.fills).toEqual([expect.objectContaining({ price: '1.050', notional: '1.050000', fee: '0.001050' })]);
    await t.http.delete('/v1/orders').set(bearer(p.key)).expect(200);
  });

  test('a book that has never traded collars market orders around the spot index', async () => {
    // A fresh model class: its forward has no trades, and neither has its spot book at first.
    const fresh = await listSpotInstrument(t, 'idx');
    const forward = await t.http
      .post('/v1/admin/instruments')
      .set(bearer(t.adminKey))
      .send({ modelClassId: fresh.modelClassId, kind: 'forward', deliveryPeriod: '2099-02', tickSize: '0.010' })
      .expect(201);
    const on = (instrument: string) => (who: TestParticipant, body: object) => t.http.post('/v1/orders').set(bearer(who.key)).send({ instrument, ...body });
    const b = await buyer('100');
    const p = await fundedProvider(t, fresh.modelClassId);
    const forwardSell = await on(forward.body.symbol)(p, { side: 'sell', type: 'limit', price: '0.540', quantity: 1_000_000 }).expect(201);
    expect(forwardSell.body.hold).toBe('0.000540'); // a forward order holds only its most fee (10 bps); margin is the provider's
    await on(forward.body.symbol)(p, { side: 'sell', type: 'limit', price: '0.560', quantity: 1_000_000 }).expect(201);
    const refused = await on(forward.body.symbol)(b, { side: 'buy', type: 'market', quantity: 1_000_000 }).expect(422);
    expect(refused.body.code).toBe('NO_REFERENCE_PRICE');

    // One spot trade at 0.500 makes the index 0.500 (the last hour's VWAP): the collar is 0.550.
    await on(fresh.symbol)(p, { side: 'sell', type: 'limit', price: '0.500', quantity: 1_000_000 }).expect(201);
    await on(fresh.symbol)(b, { side: 'buy', type: 'limit', price: '0.500', quantity: 1_000_000 }).expect(201);
    const market = await on(forward.body.symbol)(b, { side: 'buy', type: 'market', quantity: 2_000_000 }).expect(201);
    expect(market.body).toMatchObject({ status: 'cancelled', closeReason: 'collar', filledQuantity: 1_000_000, hold: '0.000000' });
    expect(market.body.fills).toEqual([expect.objectContaining({ price: '0.54' })]); // on the forward's 0.01 grid
    const [book] = await t.dataSource.query(`SELECT reference_price_ticks::int AS ref FROM instrument_books WHERE instrument = $1`, [forward.body.symbol]);
    expect(book.ref).toBe(54); // the forward's own last trade, on its 0.010 grid, from now on
    await t.http.delete('/v1/orders').set(bearer(p.key)).expect(200);
  });

  test('a repeated clientOrderId returns the first order, never a second', async () => {
    const b = await buyer('10');
    const body = { side: 'buy', type: 'limit', price: '0.100', quantity: 1_000_000, clientOrderId: 'bot-1' };
    const first = await order(b, body).expect(201);
    const again = await order(b, body).expect(200);
    expect(again.body.id).toBe(first.body.id);
    const racing = await Promise.all(Array.from({ length: 5 }, () => order(b, { ...body, clientOrderId: 'bot-2' })));
    expect(new Set(racing.map((r) => r.body.id)).size).toBe(1);
    expect(await balancesOf(t, b)).toMatchObject({ held: '0.200200' });
  });

  test('GTD orders expire on time and release their hold', async () => {
    const b = await buyer('10');
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const placed = await order(b, { side: 'buy', type: 'limit', price: '0.100', quantity: 1_000_000, timeInForce: 'GTD', expiresAt }).expect(201);
    const expired = await waitFor('the GTD order to expire', async () => {
      const read = await t.http.get(`/v1/orders/${placed.body.id}`).set(bearer(b.key));
      return read.body.status === 'expired' ? read.body : undefined;
    });
    expect(expired).toMatchObject({ closeReason: 'expired', hold: '0.000000' });
    expect(await balancesOf(t, b)).toMatchObject({ held: '0.000000', available: '10.000000' });
  });

  test('mass cancel closes every open order of the caller and releases every hold', async () => {
    const b = await buyer('10');
    for (const price of ['0.010', '0.020', '0.030']) await order(b, { side: 'buy', type: 'limit', price, quantity: 1_000_000 }).expect(201);
    const cancelled = await t.http.delete(`/v1/orders?instrument=${symbol}`).set(bearer(b.key)).expect(200);
    expect(cancelled.body.cancelled.map((o: { closeReason: string }) => o.closeReason)).toEqual(['mass_cancel', 'mass_cancel', 'mass_cancel']);
    expect(await balancesOf(t, b)).toMatchObject({ held: '0.000000', available: '10.000000' });
  });

  test('the dead-man switch cancels every open order unless renewed; a timeout of 0 disarms it', async () => {
    const bot = await buyer('10');
    const resting = await order(bot, { side: 'buy', type: 'limit', price: '0.010', quantity: 1_000_000 }).expect(201);
    const armed = await t.http.post('/v1/orders/cancel-all-after').set(bearer(bot.key)).send({ timeout: 1 }).expect(200);
    expect(Date.parse(armed.body.triggerTime) - Date.parse(armed.body.currentTime)).toBe(1000);
    const cancelled = await waitFor('the dead-man switch to fire', async () => {
      const read = await t.http.get(`/v1/orders/${resting.body.id}`).set(bearer(bot.key));
      return read.body.status === 'cancelled' ? read.body : undefined;
    });
    expect(cancelled).toMatchObject({ closeReason: 'mass_cancel', hold: '0.000000' });
    expect(await balancesOf(t, bot)).toMatchObject({ held: '0.000000', available: '10.000000' });

    await t.http.post('/v1/orders/cancel-all-after').set(bearer(bot.key)).send({ timeout: 60 }).expect(200);
    const disarmed = await t.http.post('/v1/orders/cancel-all-after').set(bearer(bot.key)).send({ timeout: 0 }).expect(200);
    expect(disarmed.body.triggerTime).toBeNull();
    expect(await t.dataSource.query(`SELECT 1 FROM dead_man_switches WHERE participant_id = $1`, [bot.id])).toEqual([]);
    const bad = await t.http.post('/v1/orders/cancel-all-after').set(bearer(bot.key)).send({ timeout: -5 }).expect(400);
    expect(bad.body.message).toContain('timeout');
  });

  test('a halted instrument refuses new orders but still lets orders be cancelled', async () => {
    const b = await buyer('10');
    const resting = await order(b, { side: 'buy', type: 'limit', price: '0.010', quantity: 1_000_000 }).expect(201);
    await t.http.post(`/v1/admin/instruments/${symbol}/halt`).set(bearer(t.adminKey)).send({ reason: 'test' }).expect(200);
    try {
      const refused = await order(b, { side: 'buy', type: 'limit', price: '0.010', quantity: 1_000_000 }).expect(422);
      expect(refused.body.code).toBe('INSTRUMENT_HALTED');
      await t.http.delete(`/v1/orders/${resting.body.id}`).set(bearer(b.key)).expect(200);
    } finally {
      await t.http.post(`/v1/admin/instruments/${symbol}/resume`).set(bearer(t.adminKey)).send({ reason: 'test over' }).expect(200);
    }
    expect(await balancesOf(t, b)).toMatchObject({ held: '0.000000' });
  });

  test('while halted an order may shrink or go, but not take a new price or grow: nothing trades', async () => {
    await listInstrument();
    const b = await buyer('10');
    const p = await provider();
    const bid = await order(b, { side: 'buy', type: 'limit', price: '0.400', quantity: 2_000_000 }).expect(201);
    await order(p, { side: 'sell', type: 'limit', price: '0.500', quantity: 1_000_000 }).expect(201);
    await t.http.post(`/v1/admin/instruments/${symbol}/halt`).set(bearer(t.adminKey)).send({ reason: 'test' }).expect(200);
    try {
      const repriced = await t.http.patch(`/v1/orders/${bid.body.id}`).set(bearer(b.key)).send({ price: '0.500' }).expect(422);
      expect(repriced.body.code).toBe('INSTRUMENT_HALTED');
      await t.http.patch(`/v1/orders/${bid.body.id}`).set(bearer(b.key)).send({ quantity: 3_000_000 }).expect(422);
      const reduced = await t.http.patch(`/v1/orders/${bid.body.id}`).set(bearer(b.key)).send({ quantity: 1_000_000 }).expect(200);
      expect(reduced.body).toMatchObject({ quantity: 1_000_000, fills: [], hold: '0.400400' });
    } finally {
      await t.http.post(`/v1/admin/instruments/${symbol}/resume`).set(bearer(t.adminKey)).send({ reason: 'test over' }).expect(200);
    }
    const [{ count }] = await t.dataSource.query(`SELECT count(*)::int AS count FROM fills WHERE instrument = $1`, [symbol]);
    expect(count).toBe(0);
    await t.http.delete('/v1/orders').set(bearer(b.key)).expect(200);
    await t.http.delete('/v1/orders').set(bearer(p.key)).expect(200);
  });

  test('the bond of filled tokens moves to their delivery; only the open part follows the limit', async () => {
    await listInstrument();
    const b = await buyer('100');
    const p = await provider(1_000_000, '100');
    await order(b, { side: 'buy', type: 'limit', price: '8.000', quantity: 1_000_000 }).expect(201);
    // 2,000,000 tokens at 8.000: bond 1.600000; half of it fills against the bid, and that half's
    // bond (0.800000) now backs the delivery rather than the order.
    const sell = await order(p, { side: 'sell', type: 'limit', price: '8.000', quantity: 2_000_000 }).expect(201);
    expect(sell.body).toMatchObject({ filledQuantity: 1_000_000, hold: '0.800000' });
    const [delivery] = await t.dataSource.query(`SELECT bond_micros::text AS bond, notional_micros::text AS notional FROM deliveries WHERE fill_id = $1`, [
      sell.body.fills[0].id,
    ]);
    expect(delivery).toEqual({ bond: '800000', notional: '8000000' });
    // Re-pricing the open half to one tick cannot take the delivery's bond back.
    const amended = await t.http.patch(`/v1/orders/${sell.body.id}`).set(bearer(p.key)).send({ price: '0.001' }).expect(200);
    expect(amended.body.hold).toBe('0.000100');
    const cancelled = await t.http.delete(`/v1/orders/${sell.body.id}`).set(bearer(p.key)).expect(200);
    expect(cancelled.body.hold).toBe('0.000000');
    expect(await balancesOf(t, p)).toMatchObject({ bond: '0.800000', available: '99.200000' });
  });

  test('overdue GTD orders on a book nobody serves are expired by the worker sweep, and their hold released', async () => {
    await listInstrument();
    const b = await buyer('10');
    const expiresAt = new Date(Date.now() + 1000).toISOString();
    const placed = await order(b, { side: 'buy', type: 'limit', price: '0.100', quantity: 1_000_000, timeInForce: 'GTD', expiresAt }).expect(201);
    const books = t.app.get(BookGateway);
    await books.release(symbol); // as after a restart with no traffic on this book: no writer, no timer
    // Time itself is what is tested here: the order must be past its expiry (plus the sweep's 2 s margin).
    await new Promise((resolve) => setTimeout(resolve, Date.parse(expiresAt) + 2_100 - Date.now()));
    expect((await t.http.get(`/v1/orders/${placed.body.id}`).set(bearer(b.key)).expect(200)).body.status).toBe('open');
    await t.app.get(OrderExpiryJob).handle({ reason: 'test' });
    const expired = (await t.http.get(`/v1/orders/${placed.body.id}`).set(bearer(b.key)).expect(200)).body;
    expect(expired).toMatchObject({ status: 'expired', hold: '0.000000' });
    expect(await balancesOf(t, b)).toMatchObject({ available: '10.000000', held: '0.000000' });
    // The sweep gave the book back: this process (or any other) serves it again on the next order.
    await order(b, { side: 'buy', type: 'limit', price: '0.100', quantity: 1_000_000 }).expect(201);
    await t.http.delete('/v1/orders').set(bearer(b.key)).expect(200);
  });

  test('amending quantity down keeps time priority; up loses it', async () => {
    await listInstrument();
    const first = await buyer('10');
    const second = await buyer('10');
    const p = await provider();
    const a = await order(first, { side: 'buy', type: 'limit', price: '0.200', quantity: 3_000_000 }).expect(201);
    const b = await order(second, { side: 'buy', type: 'limit', price: '0.200', quantity: 1_000_000 }).expect(201);
    // Down: `a` keeps its place ahead of `b`, and its hold shrinks to 2,000,000 tokens' worth.
    const down = await t.http.patch(`/v1/orders/${a.body.id}`).set(bearer(first.key)).send({ quantity: 2_000_000 }).expect(200);
    expect(down.body).toMatchObject({ quantity: 2_000_000, hold: '0.400400' });
    const sold = await order(p, { side: 'sell', type: 'limit', price: '0.200', quantity: 1_000_000 }).expect(201);
    expect(sold.body.fills[0]).toMatchObject({ quantity: 1_000_000 });
    expect((await t.http.get(`/v1/orders/${a.body.id}`).set(bearer(first.key))).body.filledQuantity).toBe(1_000_000);
    // Up: `a` goes behind `b`, so the next sell fills `b`.
    await t.http.patch(`/v1/orders/${a.body.id}`).set(bearer(first.key)).send({ quantity: 3_000_000 }).expect(200);
    await order(p, { side: 'sell', type: 'limit', price: '0.200', quantity: 1_000_000 }).expect(201);
    expect((await t.http.get(`/v1/orders/${b.body.id}`).set(bearer(second.key))).body.status).toBe('filled');
    await t.http.delete('/v1/orders').set(bearer(first.key)).expect(200);
  });

  test('any process accepts any order: another process relays it to the one that serves the book', async () => {
    const b = await buyer('10');
    const p = await provider();
    await order(b, { side: 'buy', type: 'limit', price: '0.010', quantity: 1_000_000 }).expect(201); // this app now owns the book
    const other = await startTestApp({ QUEUE_PREFIX: t.config.redis.queuePrefix }); // same Redis channels, as processes of one deployment
    try {
      const sold = await other.http
        .post('/v1/orders')
        .set(bearer(p.key))
        .send({ instrument: symbol, side: 'sell', type: 'limit', price: '0.010', quantity: 1_000_000 })
        .expect(201);
      expect(sold.body.fills).toEqual([expect.objectContaining({ price: '0.010', quantity: 1_000_000 })]);
      // One matcher: the book stayed with its owner, and the other process only relayed.
      expect(t.app.get(BookGateway).serves(symbol)).toBe(true);
      expect(other.app.get(BookGateway).serves(symbol)).toBe(false);
      const book = await other.http.get(`/v1/markets/${symbol}/book`).expect(200);
      const own = await t.http.get(`/v1/markets/${symbol}/book`).expect(200);
      expect(book.body).toEqual(own.body);
    } finally {
      await other.close();
    }
    await t.http.delete('/v1/orders').set(bearer(b.key)).expect(200);
  });

  test("a sell holds the bond its instrument names: the spot instrument's bondBps", async () => {
    ({ symbol, modelClassId } = await listSpotInstrument(t, 'ord', { bondBps: 250 }));
    const p = await provider(1_000_000, '100');
    // 2,000,000 tokens at 8.000 USD/MTok: notional 16.000000; 2.5 % bond = 0.400000.
    const sell = await order(p, { side: 'sell', type: 'limit', price: '8.000', quantity: 2_000_000 }).expect(201);
    expect(sell.body.hold).toBe('0.400000');
    expect(await balancesOf(t, p)).toMatchObject({ bond: '0.400000', available: '99.600000' });
    await t.http.delete(`/v1/orders/${sell.body.id}`).set(bearer(p.key)).expect(200);
  });

  test('a book view asked while batches keep coming is answered between two batches, not once the queue drains', async () => {
    await listInstrument();
    const b = await buyer('100');
    const books = t.app.get(BookGateway);
    const before = await books.view(symbol);
    // 1,200 one-lot buys queued at once: the first starts a batch alone, the rest wait for it and
    // follow in batches of at most 500, one after the other.
    const place = { kind: 'place', participantId: b.id, side: 'buy', type: 'limit', timeInForce: 'GTC', priceTicks: 10, lots: 1, postOnly: false, stp: 'cancel_taker' } as const;
    const placed = Array.from({ length: 1_200 }, () => books.submit(symbol, place));
    const view = await books.view(symbol);
    await Promise.all(placed);
    const after = await books.view(symbol);
    expect(after.seq).toBe(before.seq + 1_200);
    // The view waited for the batch in flight only: it shows a committed book, mid-stream.
    expect(view.seq).toBeGreaterThan(before.seq);
    expect(view.seq).toBeLessThan(after.seq);
    const resting = view.seq - before.seq;
    expect(view.bids).toEqual([{ priceTicks: 10, quantity: resting, orderCount: resting }]);
    await t.http.delete('/v1/orders').set(bearer(b.key)).expect(200);
  });

  test('the book survives a restart: resting orders rebuilt from PostgreSQL match in price-time priority', async () => {
    await listInstrument();
    const b = await buyer('10');
    const early = await buyer('10');
    const p = await provider();
    const first = await order(early, { side: 'buy', type: 'limit', price: '0.300', quantity: 1_000_000 }).expect(201);
    const second = await order(b, { side: 'buy', type: 'limit', price: '0.300', quantity: 1_000_000 }).expect(201);
    await order(b, { side: 'buy', type: 'limit', price: '0.200', quantity: 1_000_000 }).expect(201);
    await t.close();
    t = await startTestApp();
    const sold = await order(p, { side: 'sell', type: 'limit', price: '0.300', quantity: 1_000_000 }).expect(201);
    expect(sold.body.fills).toEqual([expect.objectContaining({ price: '0.300', quantity: 1_000_000 })]);
    // Time priority survived: the earlier of the two bids at 0.300 was filled.
    expect((await t.http.get(`/v1/orders/${first.body.id}`).set(bearer(early.key)).expect(200)).body).toMatchObject({ status: 'filled', hold: '0.000000' });
    expect((await t.http.get(`/v1/orders/${second.body.id}`).set(bearer(b.key)).expect(200)).body).toMatchObject({ status: 'open', hold: '0.300300' });
    await t.http.delete('/v1/orders').set(bearer(b.key)).expect(200);
  });

  test("a book's load rebuilds every field of its open orders as a single read of each does", async () => {
    await listInstrument();
    const b = await buyer('10');
    const p = await provider();
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const gtd = await order(b, { side: 'buy', type: 'limit', price: '0.250', quantity: 3_000_000, timeInForce: 'GTD', expiresAt, clientOrderId: 'load:gtd-1' }).expect(201);
    await order(p, { side: 'sell', type: 'limit', price: '0.250', quantity: 1_000_000 }).expect(201); // fills a third: fees and notional
    const sell = await order(p, { side: 'sell', type: 'limit', price: '0.400', quantity: 2_000_000, postOnly: true, selfTradePrevention: 'cancel_both' }).expect(201);
    const loaded = await loadBook(t.dataSource, await t.app.get(MarketsService).requireInstrument(symbol), SPOT_PRODUCT);
    const owners = new Map([[gtd.body.id, b.id], [sell.body.id, p.id]]);
    expect(loaded.orders.size).toBe(owners.size);
    for (const [id, owner] of owners) {
      const live = loaded.orders.get(Number(id))!;
      expect(live).toEqual(await readOwnedOrder(t.dataSource, owner, id));
      // The engine's order, read from the front of the same line, agrees with the live order.
      expect(loaded.book.findOrder(live.id)).toEqual({
        orderId: live.id, owner, side: live.side, priceTicks: live.priceTicks, quantity: live.quantity, remaining: live.quantity - live.filled,
        timeInForce: live.timeInForce, ...(live.expiresAt !== null && { expiresAt: live.expiresAt }), postOnly: live.postOnly, stp: live.stp,
      });
    }
    const loadedGtd = loaded.orders.get(Number(gtd.body.id))!;
    expect(loadedGtd).toMatchObject({ clientOrderId: 'load:gtd-1', filled: 1_000, expiresAt: Date.parse(expiresAt), timeInForce: 'GTD' });
    expect(loadedGtd.fees.takerNotional > 0n || loadedGtd.fees.makerNotional > 0n).toBe(true);
    expect(loaded.orders.get(Number(sell.body.id))).toMatchObject({ postOnly: true, stp: 'cancel_both', side: 'sell' });
    await t.http.delete('/v1/orders').set(bearer(b.key)).expect(200);
    await t.http.delete('/v1/orders').set(bearer(p.key)).expect(200);
  });
});

describe('pre-trade checks and bad input: a 4xx naming the reason, and no hold left behind', () => {
  const cases: Array<[string, object, number, string]> = [
    ['zero quantity', { side: 'buy', type: 'limit', price: '0.100', quantity: 0 }, 400, 'quantity'],
    ['negative quantity', { side: 'buy', type: 'limit', price: '0.100', quantity: -1000 }, 400, 'quantity'],
    ['fractional quantity', { side: 'buy', type: 'limit', price: '0.100', quantity: 1000.5 }, 400, 'quantity'],
    ['off-lot quantity', { side: 'buy', type: 'limit', price: '0.100', quantity: 1500 }, 400, 'quantity'],
    ['off-tick price', { side: 'buy', type: 'limit', price: '0.1005', quantity: 1000 }, 400, 'price'],
    ['negative price', { side: 'buy', type: 'limit', price: '-0.100', quantity: 1000 }, 400, 'price'],
    ['zero price', { side: 'buy', type: 'limit', price: '0.000', quantity: 1000 }, 400, 'price'],
    ['price as a number', { side: 'buy', type: 'limit', price: 0.1, quantity: 1000 }, 400, 'price'],
    ['missing price on a limit order', { side: 'buy', type: 'limit', quantity: 1000 }, 400, 'price'],
    ['a price on a market order', { side: 'buy', type: 'market', price: '0.100', quantity: 1000 }, 400, 'price'],
    ['unknown instrument', { instrument: 'NOPE-SPOT', side: 'buy', type: 'limit', price: '0.100', quantity: 1000 }, 404, 'instrument'],
    ['past expiresAt', { side: 'buy', type: 'limit', price: '0.100', quantity: 1000, timeInForce: 'GTD', expiresAt: '2020-01-01T00:00:00Z' }, 400, 'expiresAt'],
    ['GTD without expiresAt', { side: 'buy', type: 'limit', price: '0.100', quantity: 1000, timeInForce: 'GTD' }, 400, 'expiresAt'],
    ['unknown field', { side: 'buy', type: 'limit', price: '0.100', quantity: 1000, leverage: 10 }, 400, 'leverage'],
    ['bad side', { side: 'long', type: 'limit', price: '0.100', quantity: 1000 }, 400, 'side'],
    ['bad time in force', { side: 'buy', type: 'limit', price: '0.100', quantity: 1000, timeInForce: 'DAY' }, 400, 'timeInForce'],
    ['insufficient funds', { side: 'buy', type: 'limit', price: '10.000', quantity: 1_000_000 }, 422, 'INSUFFICIENT_FUNDS'],
  ];
  test.each(cases)('%s', async (_, body, status, named) => {
    const b = await buyer('1');
    const response = await order(b, body).expect(status);
    expect(`${response.body.message} ${response.body.code}`).toContain(named);
    expect(await balancesOf(t, b)).toMatchObject({ available: '1.000000', held: '0.000000' });
    const [{ count }] = await t.dataSource.query(`SELECT count(*)::int AS count FROM orders WHERE participant_id = $1`, [b.id]);
    expect(count).toBe(0);
  });

  test('a provider without an enabled node cannot sell', async () => {
    const p = await createParticipant(t, ['provider']);
    await deposit(t, p.id, '10');
    const refused = await order(p, { side: 'sell', type: 'limit', price: '0.100', quantity: 1_000_000 }).expect(422);
    expect(refused.body.code).toBe('NO_ACTIVE_NODE');
    expect(await balancesOf(t, p)).toMatchObject({ bond: '0.000000', available: '10.000000' });
  });

  test('a provider cannot sell beyond what its nodes serve in a delivery window', async () => {
    // 10 tokens/s × 86,400 s = 864,000 tokens per window.
    const p = await provider(10);
    const refused = await order(p, { side: 'sell', type: 'limit', price: '0.100', quantity: 1_000_000 }).expect(422);
    expect(refused.body.code).toBe('CAPACITY_EXCEEDED');
    await order(p, { side: 'sell', type: 'limit', price: '0.100', quantity: 800_000 }).expect(201);
    await order(p, { side: 'sell', type: 'limit', price: '0.100', quantity: 100_000 }).expect(422);
    // Growing a sell by amend is held to the same limit.
    const small = await order(p, { side: 'sell', type: 'limit', price: '0.200', quantity: 1_000 }).expect(201);
    const grown = await t.http.patch(`/v1/orders/${small.body.id}`).set(bearer(p.key)).send({ quantity: 100_000 }).expect(422);
    expect(grown.body.code).toBe('CAPACITY_EXCEEDED');
    await t.http.delete('/v1/orders').set(bearer(p.key)).expect(200);
  });

  test('roles: buyers buy, providers sell, admins do neither; others\' orders are invisible', async () => {
    const b = await buyer('10');
    const other = await buyer('10');
    const refused = await order(b, { side: 'sell', type: 'limit', price: '0.100', quantity: 1000 }).expect(403);
    expect(refused.body.code).toBe('ROLE_REQUIRED');
    await t.http.post('/v1/orders').set(bearer(t.adminKey)).send({ instrument: symbol, side: 'buy', type: 'limit', price: '0.100', quantity: 1000 }).expect(403);
    const mine = await order(b, { side: 'buy', type: 'limit', price: '0.010', quantity: 1000 }).expect(201);
    await t.http.get(`/v1/orders/${mine.body.id}`).set(bearer(other.key)).expect(404);
    await t.http.delete(`/v1/orders/${mine.body.id}`).set(bearer(other.key)).expect(404);
    await t.http.patch(`/v1/orders/${mine.body.id}`).set(bearer(other.key)).send({ price: '0.020' }).expect(404);
    await t.http.delete(`/v1/orders/${mine.body.id}`).set(bearer(b.key)).expect(200);
  });
});
