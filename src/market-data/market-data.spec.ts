import { describe, expect, test } from '@jest/globals';
import { DEFAULT_GRID } from '../markets/price.js';
import { BookReplica, comparePrices } from './book-replica.js';
import { candleWindow } from './candle-window.js';
import { signedPrice, tickerView } from './market-data.format.js';
import { parseClientMessage } from './stream-protocol.js';

describe('candleWindow', () => {
  const now = new Date('2026-11-26T12:34:56Z');
  test('without from: the limit buckets ending with the one holding to', () => {
    expect(candleWindow('1m', { limit: 3 }, now)).toEqual({
      seconds: 60,
      from: new Date('2026-11-26T12:32:00Z'),
      to: now,
      limit: 3,
    });
  });
  test('from is rounded down to its bucket, and to is capped at limit buckets', () => {
    const w = candleWindow('1h', { from: '2026-11-26T10:30:00Z', limit: 2 }, now);
    expect([w.from.toISOString(), w.to.toISOString()]).toEqual(['2026-11-26T10:00:00.000Z', '2026-11-26T12:00:00.000Z']);
  });
  test('days are UTC days', () => {
    expect(candleWindow('1d', { from: '2026-11-26T23:59:59+05:00' }, now).from.toISOString()).toBe('2026-11-26T00:00:00.000Z');
  });
  test('from not before to names from', () => {
    expect(() => candleWindow('1m', { from: '2026-11-26T13:00:00Z', to: '2026-11-26T13:00:00Z' }, now)).toThrow('from must be before to');
  });
});

describe('BookReplica', () => {
  const level = (price: string, quantity: number, orders = 1) => ({ price, quantity, orders });
  test('applies deltas in sequence, skips stale ones and reports gaps', () => {
    const book = new BookReplica({ sequence: 4, bids: [level('0.450', 1000)], asks: [level('0.500', 2000)] });
    expect(book.apply({ seq: 4, previousSeq: 3, bids: [], asks: [] })).toBe('stale');
    expect(book.apply({ seq: 6, previousSeq: 4, bids: [level('0.450', 0, 0), level('10.000', 5000)], asks: [level('9.000', 1000)] })).toBe('applied');
    expect(book.apply({ seq: 9, previousSeq: 7, bids: [], asks: [] })).toBe('gap');
    expect(book.view()).toEqual({ sequence: 6, bids: [level('10.000', 5000)], asks: [level('0.500', 2000), level('9.000', 1000)] });
  });
  test('compares prices of one grid without parsing', () => {
    expect(['10.000', '9.000', '0.450', '0.500'].sort(comparePrices)).toEqual(['0.450', '0.500', '9.000', '10.000']);
  });
});

describe('formatting', () => {
  test('a price change keeps its sign', () => {
    expect([signedPrice(-50, DEFAULT_GRID), signedPrice(20, DEFAULT_GRID), signedPrice(0, DEFAULT_GRID)]).toEqual(['-0.050', '0.020', '0.000']);
  });
  test('a ticker with no trade in the day has a last price but no day figures', () => {
    const top = { seq: 7, bids: [], asks: [{ priceTicks: 500, quantity: 2, orderCount: 1 }], referencePriceTicks: undefined };
    expect(tickerView('X-SPOT', DEFAULT_GRID, top, 450, { trades: 0, lots: 0n, notional: 0n })).toEqual({
      instrument: 'X-SPOT', sequence: 7, lastPrice: '0.450', bestBid: null, bestAsk: { price: '0.500', quantity: 2000, orders: 1 },
      open24h: null, high24h: null, low24h: null, change24h: null, volume24h: 0, notional24h: '0.000000', trades24h: 0,
    });
  });
});

describe('parseClientMessage', () => {
  test.each([
    ['{"op":"subscribe","channel":"book","instrument":"X-SPOT","id":7}', { op: 'subscribe', channel: 'book', instrument: 'X-SPOT', id: 7 }],
    ['{"op":"subscribe","channel":"fills"}', { op: 'subscribe', channel: 'fills' }],
    ['{"op":"auth","apiKey":"tkx_abc"}', { op: 'auth', apiKey: 'tkx_abc' }],
    // Order messages: their fields are checked later, against the REST DTOs.
    ['{"op":"place","id":"a1","instrument":"X-SPOT","price":"0.4"}', { op: 'place', id: 'a1', fields: { instrument: 'X-SPOT', price: '0.4' } }],
    ['{"op":"cancel","id":9,"orderId":"12"}', { op: 'cancel', id: 9, fields: { orderId: '12' } }],
  ])('accepts %s', (text, message) => {
    expect(parseClientMessage(text)).toEqual({ ok: true, message: expect.objectContaining(message) });
  });
  test.each([
    ['{', 'INVALID_MESSAGE'],
    ['"subscribe"', 'INVALID_MESSAGE'],
    ['{"op":"subscribe","channel":"book","instrument":"x-spot"}', 'INVALID_MESSAGE'],
    ['{"op":"subscribe","channel":"orders","instrument":"X-SPOT"}', 'INVALID_MESSAGE'],
    ['{"op":"subscribe","channel":"news","instrument":"X-SPOT","id":3}', 'UNKNOWN_CHANNEL'],
    ['{"op":"ping"}', 'UNKNOWN_OP'],
    ['{"op":"place","instrument":"X-SPOT"}', 'INVALID_MESSAGE'], // no id: the answer could not say which
    ['{"op":"amend","id":1.5,"orderId":"12"}', 'INVALID_MESSAGE'],
    ['{"op":"place","id":1,"__proto__":{"x":1}}', 'INVALID_MESSAGE'],
    ['{"op":"place","id":1,"clientOrderId":"a\\u0000b"}', 'INVALID_MESSAGE'],
    [`{"op":"place","id":1,"price":${'['.repeat(40)}${']'.repeat(40)}}`, 'INVALID_MESSAGE'],
  ])('refuses %s with %s', (text, code) => {
    expect(parseClientMessage(text)).toMatchObject({ ok: false, error: { op: 'error', code } });
  });
});
