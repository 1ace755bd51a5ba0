import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import {
  type BookConfig,
  type BookSnapshot,
  type Command,
  FastOrderBook,
  type OrderBook,
  type OrderBookFactory,
  ReferenceOrderBook,
  RejectCode,
} from './index.js';
import { BookDriver, type DriverCommand, summarize } from './testing/book-driver.js';
import { checkInvariants } from './testing/invariants.js';

const ids = (book: OrderBook, side: 'buy' | 'sell') => book.orders(side).map((o) => o.orderId);

/**
 * The one suite both books must pass (exchange-core's OrderBookBaseTest). Every test starts from
 * the same book, and every book a test makes is checked against the invariants after the test.
 *
 *   asks  103: #3 carol 7
 *         101: #1 carol 5, #2 dave 10
 *   bids   99: #4 dave 4
 *          98: #5 carol 6, #6 dave 2
 *
 * Orders placed by a test get ids from 7 on; alice and bob own no resting order.
 */
function describeOrderBook(name: string, factory: OrderBookFactory): void {
  describe(name, () => {
    let books: OrderBook[];
    let d: BookDriver;

    const track = <B extends OrderBook>(book: B): B => {
      checkInvariants(book, factory);
      books.push(book);
      return book;
    };
    const newDriver = (config?: BookConfig) => new BookDriver(track(factory.create(config)));

    beforeEach(() => {
      books = [];
      d = new BookDriver(factory.create());
      d.sell(101, 5, { owner: 'carol' });
      d.sell(101, 10, { owner: 'dave' });
      d.sell(103, 7, { owner: 'carol' });
      d.buy(99, 4, { owner: 'dave' });
      d.buy(98, 6, { owner: 'carol' });
      d.buy(98, 2, { owner: 'dave' });
      track(d.book);
    });

    afterEach(() => {
      for (const book of books) checkInvariants(book, factory);
    });

    describe('limit orders', () => {
      test('an order that does not cross rests behind the orders at its price', () => {
        const { orderId, events } = d.buy(98, 3);
        expect(events).toEqual([{ type: 'accepted', orderId: 7, owner: 'alice', side: 'buy', priceTicks: 98, quantity: 3 }]);
        expect(ids(d.book, 'buy')).toEqual([4, 5, 6, orderId]);
        expect(d.book.depth('buy')).toEqual([
          { priceTicks: 99, quantity: 4, orderCount: 1 },
          { priceTicks: 98, quantity: 11, orderCount: 3 },
        ]);
      });

      test('new levels open above, between and below existing ones', () => {
        d.sell(102, 1);
        d.sell(100, 1);
        d.sell(110, 1);
        d.buy(97, 1);
        d.buy(99, 1);
        expect(d.book.depth('sell').map((l) => l.priceTicks)).toEqual([100, 101, 102, 103, 110]);
        expect(d.book.depth('buy').map((l) => l.priceTicks)).toEqual([99, 98, 97]);
        expect(d.book.bestPrice('sell')).toBe(100);
        expect(d.book.bestPrice('buy')).toBe(99);
      });

      test('a crossing order trades best price first, then by time, and rests the rest', () => {
        const { events } = d.buy(102, 20);
        expect(summarize(events)).toEqual([
          'accepted #7 buy 20@102',
          'trade #1/#7 5@101 left 0/15',
          'trade #2/#7 10@101 left 0/5',
        ]);
        expect(d.book.depth('buy')[0]).toEqual({ priceTicks: 102, quantity: 5, orderCount: 1 });
        expect(d.book.depth('sell')).toEqual([{ priceTicks: 103, quantity: 7, orderCount: 1 }]);
      });

      test('a sweep through several levels trades at each maker price, never the taker limit', () => {
        const { events } = d.buy(120, 22);
        expect(summarize(events)).toEqual([
          'accepted #7 buy 22@120',
          'trade #1/#7 5@101 left 0/17',
          'trade #2/#7 10@101 left 0/7',
          'trade #3/#7 7@103 left 0/0',
        ]);
        expect(d.book.depth('sell')).toEqual([]);
        expect(d.book.bestPrice('buy')).toBe(99);
      });

      test('a sell sweeps the bids the same way', () => {
        const { events } = d.sell(98, 12, { owner: 'bob' });
        expect(summarize(events)).toEqual([
          'accepted #7 sell 12@98',
          'trade #4/#7 4@99 left 0/8',
          'trade #5/#7 6@98 left 0/2',
          'trade #6/#7 2@98 left 0/0',
        ]);
        expect(d.book.bestPrice('buy')).toBeUndefined();
      });

      test('a trade event names both sides and the open quantity left on each', () => {
        const { events } = d.buy(101, 3);
        expect(events[1]).toEqual({
          type: 'trade',
          makerOrderId: 1,
          takerOrderId: 7,
          makerOwner: 'carol',
          takerOwner: 'alice',
          takerSide: 'buy',
          priceTicks: 101,
          quantity: 3,
          makerRemaining: 2,
          takerRemaining: 0,
        });
      });

      test('a partly filled maker keeps its place in the queue', () => {
        d.buy(101, 3);
        expect(ids(d.book, 'sell')).toEqual([1, 2, 3]);
        expect(d.book.findOrder(1)).toMatchObject({ quantity: 5, remaining: 2 });
      });

      test('every trade sets the reference price', () => {
        expect(d.book.referencePriceTicks).toBeUndefined();
        d.buy(103, 20);
        expect(d.book.referencePriceTicks).toBe(103);
      });
    });

    describe('IOC', () => {
      test('fills what it can and cancels the rest', () => {
        const { events } = d.buy(101, 20, { timeInForce: 'IOC' });
        expect(summarize(events)).toEqual([
          'accepted #7 buy 20@101',
          'trade #1/#7 5@101 left 0/15',
          'trade #2/#7 10@101 left 0/5',
          'cancelled #7 5 ioc',
        ]);
        expect(d.book.findOrder(7)).toBeUndefined();
        expect(d.book.bestPrice('buy')).toBe(99);
      });

      test('is accepted then cancelled whole when nothing crosses', () => {
        const { events } = d.sell(100, 5, { timeInForce: 'IOC' });
        expect(events).toEqual([
          { type: 'accepted', orderId: 7, owner: 'alice', side: 'sell', priceTicks: 100, quantity: 5 },
          { type: 'cancelled', orderId: 7, owner: 'alice', side: 'sell', priceTicks: 100, remaining: 5, reason: 'ioc' },
        ]);
      });
    });

    describe('FOK', () => {
      test('fills entirely across levels', () => {
        const { events } = d.buy(103, 22, { timeInForce: 'FOK' });
        expect(summarize(events)).toEqual([
          'accepted #7 buy 22@103',
          'trade #1/#7 5@101 left 0/17',
          'trade #2/#7 10@101 left 0/7',
          'trade #3/#7 7@103 left 0/0',
        ]);
      });

      test('is rejected, changing nothing, when the book cannot fill it within its limit', () => {
        const before = d.book.snapshot();
        const { events } = d.buy(101, 16, { timeInForce: 'FOK' });
        expect(events).toEqual([{ type: 'rejected', code: RejectCode.FOK_NOT_FILLABLE, orderId: 7 }]);
        expect(d.book.snapshot()).toEqual({ ...before, lastSequence: before.lastSequence + 1 });
      });

      test('a rejected FOK order leaves its id unused', () => {
        d.buy(101, 16, { timeInForce: 'FOK' });
        const events = d.send({ type: 'place', orderId: 7, owner: 'bob', side: 'buy', orderType: 'limit', priceTicks: 90, quantity: 1, timeInForce: 'GTC' });
        expect(summarize(events)).toEqual(['accepted #7 buy 1@90']);
      });

      test('counts no liquidity beyond an own order when the taker would be cancelled there', () => {
        // carol 5, then dave's own 10 stops a cancel_taker; carol's 7 at 103 is never reached.
        expect(summarize(d.buy(103, 12, { owner: 'dave', timeInForce: 'FOK' }).events)).toEqual(['rejected FOK_NOT_FILLABLE']);
        expect(summarize(d.buy(103, 12, { owner: 'dave', timeInForce: 'FOK', stp: 'cancel_both' }).events)).toEqual([
          'rejected FOK_NOT_FILLABLE',
        ]);
      });

      test('skips own orders that cancel_maker would cancel', () => {
        const { events } = d.buy(103, 12, { owner: 'dave', timeInForce: 'FOK', stp: 'cancel_maker' });
        expect(summarize(events)).toEqual([
          'accepted #7 buy 12@103',
          'trade #1/#7 5@101 left 0/7',
          'cancelled #2 10 stp',
          'trade #3/#7 7@103 left 0/0',
        ]);
      });

      test('does not count makers past their expiry, and leaves them when rejected', () => {
        const e = newDriver();
        e.sell(100, 5, { owner: 'carol', expiresAt: e.now + 10 });
        e.sell(100, 5, { owner: 'carol' });
        e.now += 10;
        expect(summarize(e.buy(100, 6, { owner: 'bob', timeInForce: 'FOK' }).events)).toEqual(['rejected FOK_NOT_FILLABLE']);
        expect(e.book.findOrder(1)).toBeDefined();
        expect(summarize(e.buy(100, 5, { owner: 'bob', timeInForce: 'FOK' }).events)).toEqual([
          'accepted #4 buy 5@100',
          'expired #1 5',
          'trade #2/#4 5@100 left 0/0',
        ]);
      });
    });

    describe('market orders and the price collar', () => {
      test('are rejected while the book has no reference price', () => {
        expect(d.book.collarLimit('buy')).toBeUndefined();
        expect(d.marketBuy(5).events).toEqual([{ type: 'rejected', code: RejectCode.NO_REFERENCE_PRICE, orderId: 7 }]);
      });

      test('the collar is the reference price ± floor(reference × bps / 10 000)', () => {
        d.setReferencePrice(1005);
        expect(d.book.collarLimit('buy')).toBe(1105);
        expect(d.book.collarLimit('sell')).toBe(905);
        d.setReferencePrice(5);
        expect(d.book.collarLimit('sell')).toBe(5);
        d.setReferencePrice(1);
        expect(d.book.collarLimit('sell')).toBe(1);
      });

      test('fill within the collar and cancel the rest as market_unfilled when the side runs out', () => {
        d.setReferencePrice(100);
        const { events } = d.marketBuy(30);
        expect(summarize(events)).toEqual([
          'accepted #7 buy 30@110',
          'trade #1/#7 5@101 left 0/25',
          'trade #2/#7 10@101 left 0/15',
          'trade #3/#7 7@103 left 0/8',
          'cancelled #7 8 market_unfilled',
        ]);
      });

      test('stop at the collar and cancel the rest as collar', () => {
        d.sell(111, 50, { owner: 'bob' });
        d.setReferencePrice(100);
        const { events } = d.marketBuy(30);
        expect(summarize(events).at(-1)).toBe('cancelled #8 8 collar');
        expect(d.book.depth('sell')).toEqual([{ priceTicks: 111, quantity: 50, orderCount: 1 }]);
      });

      test('the last trade price becomes the reference, until an index price replaces it', () => {
        d.buy(101, 3);
        expect(d.book.referencePriceTicks).toBe(101);
        expect(d.book.collarLimit('sell')).toBe(91);
        d.setReferencePrice(110);
        expect(d.book.collarLimit('sell')).toBe(99);
        const { events } = d.marketSell(20);
        expect(summarize(events)).toEqual(['accepted #8 sell 20@99', 'trade #4/#8 4@99 left 0/16', 'cancelled #8 16 collar']);
      });

      test('a zero-bps collar fills only at the reference price', () => {
        const e = newDriver({ collarBps: 0 });
        e.sell(100, 5, { owner: 'carol' });
        e.sell(101, 5, { owner: 'carol' });
        e.setReferencePrice(100);
        expect(summarize(e.marketBuy(10).events)).toEqual([
          'accepted #3 buy 10@100',
          'trade #1/#3 5@100 left 0/5',
          'cancelled #3 5 collar',
        ]);
      });

      test('a FOK market order fills entirely within the collar or is rejected', () => {
        d.setReferencePrice(100);
        expect(summarize(d.marketBuy(23, { timeInForce: 'FOK' }).events)).toEqual(['rejected FOK_NOT_FILLABLE']);
        expect(summarize(d.marketBuy(22, { timeInForce: 'FOK' }).events)).toHaveLength(4);
        expect(d.book.depth('sell')).toEqual([]);
      });
    });

    describe('post-only', () => {
      test('rests when it does not cross', () => {
        expect(summarize(d.buy(100, 5, { postOnly: true }).events)).toEqual(['accepted #7 buy 5@100']);
        expect(d.book.findOrder(7)).toMatchObject({ postOnly: true, priceTicks: 100 });
      });

      test('is rejected, changing nothing, when it would take, even at the touch', () => {
        const before = d.book.orders('sell');
        expect(summarize(d.buy(101, 5, { postOnly: true }).events)).toEqual(['rejected POST_ONLY_WOULD_TAKE']);
        expect(summarize(d.sell(99, 5, { postOnly: true }).events)).toEqual(['rejected POST_ONLY_WOULD_TAKE']);
        expect(d.book.orders('sell')).toEqual(before);
      });

      test('an amend to a crossing price is rejected and the order stays as it was', () => {
        d.buy(100, 5, { postOnly: true });
        expect(summarize(d.amend(7, { priceTicks: 101 }))).toEqual(['rejected POST_ONLY_WOULD_TAKE']);
        expect(d.book.findOrder(7)).toMatchObject({ priceTicks: 100, remaining: 5 });
      });
    });

    describe('self-trade prevention', () => {
      test('cancel_taker (the default) cancels the taker at its first own maker', () => {
        const { events } = d.buy(103, 20, { owner: 'dave' });
        expect(summarize(events)).toEqual(['accepted #7 buy 20@103', 'trade #1/#7 5@101 left 0/15', 'cancelled #7 15 stp']);
        expect(ids(d.book, 'sell')).toEqual([2, 3]);
      });

      test('cancel_maker cancels own makers and matches on', () => {
        const { events } = d.buy(103, 20, { owner: 'dave', stp: 'cancel_maker' });
        expect(summarize(events)).toEqual([
          'accepted #7 buy 20@103',
          'trade #1/#7 5@101 left 0/15',
          'cancelled #2 10 stp',
          'trade #3/#7 7@103 left 0/8',
        ]);
        expect(d.book.depth('buy')[0]).toEqual({ priceTicks: 103, quantity: 8, orderCount: 1 });
      });

      test('cancel_both cancels the own maker, then the taker', () => {
        const { events } = d.buy(103, 20, { owner: 'dave', stp: 'cancel_both' });
        expect(summarize(events)).toEqual([
          'accepted #7 buy 20@103',
          'trade #1/#7 5@101 left 0/15',
          'cancelled #2 10 stp',
          'cancelled #7 15 stp',
        ]);
        expect(ids(d.book, 'sell')).toEqual([3]);
      });

      test("the taker's mode decides, not the maker's", () => {
        d.sell(100, 5, { owner: 'carol', stp: 'cancel_maker' });
        expect(summarize(d.buy(100, 5, { owner: 'carol' }).events)).toEqual(['accepted #8 buy 5@100', 'cancelled #8 5 stp']);
        expect(d.book.findOrder(7)).toMatchObject({ remaining: 5 });
      });

      test('applies to an amended order that crosses', () => {
        const events = d.amend(5, { priceTicks: 101 }, 'carol');
        expect(summarize(events)).toEqual(['amended #5 6@101 lost', 'cancelled #5 6 stp']);
        expect(d.book.findOrder(5)).toBeUndefined();
      });
    });

    describe('amend', () => {
      test('lowering the quantity keeps time priority', () => {
        const events = d.amend(1, { quantity: 2 }, 'carol');
        expect(events).toEqual([
          {
            type: 'amended',
            orderId: 1,
            owner: 'carol',
            side: 'sell',
            priceTicks: 101,
            quantity: 2,
            remaining: 2,
            previousPriceTicks: 101,
            previousRemaining: 5,
            priorityKept: true,
          },
        ]);
        expect(ids(d.book, 'sell')).toEqual([1, 2, 3]);
        expect(d.book.depth('sell')[0]).toEqual({ priceTicks: 101, quantity: 12, orderCount: 2 });
      });

      test('raising the quantity loses time priority', () => {
        expect(summarize(d.amend(1, { quantity: 8 }, 'carol'))).toEqual(['amended #1 8@101 lost']);
        expect(ids(d.book, 'sell')).toEqual([2, 1, 3]);
        expect(d.book.depth('sell')[0]).toEqual({ priceTicks: 101, quantity: 18, orderCount: 2 });
      });

      test('changing the price loses time priority', () => {
        expect(summarize(d.amend(1, { priceTicks: 103 }, 'carol'))).toEqual(['amended #1 5@103 lost']);
        expect(ids(d.book, 'sell')).toEqual([2, 3, 1]);
      });

      test('a new price that crosses trades like an incoming order', () => {
        const events = d.amend(4, { priceTicks: 101 }, 'dave');
        expect(summarize(events)).toEqual(['amended #4 4@101 lost', 'trade #1/#4 4@101 left 1/0']);
        expect(d.book.findOrder(4)).toBeUndefined();
      });

      test('quantity is the new total, the filled part included', () => {
        d.buy(101, 8); // fills #1 and 3 of dave's #2
        expect(summarize(d.amend(2, { quantity: 5 }, 'dave'))).toEqual(['amended #2 2@101 kept']);
        expect(summarize(d.amend(2, { quantity: 3 }, 'dave'))).toEqual(['rejected AMEND_BELOW_FILLED']);
        expect(summarize(d.amend(2, { quantity: 12 }, 'dave'))).toEqual(['amended #2 9@101 lost']);
        expect(d.book.findOrder(2)).toMatchObject({ quantity: 12, remaining: 9 });
      });

      test("an unknown order, or another owner's, is UNKNOWN_ORDER", () => {
        expect(summarize(d.amend(99, { quantity: 1 }))).toEqual(['rejected UNKNOWN_ORDER']);
        expect(summarize(d.amend(1, { quantity: 1 }, 'alice'))).toEqual(['rejected UNKNOWN_ORDER']);
        expect(d.book.findOrder(1)).toMatchObject({ remaining: 5 });
      });

      test('an amend that changes nothing keeps priority', () => {
        expect(summarize(d.amend(1, { priceTicks: 101, quantity: 5 }, 'carol'))).toEqual(['amended #1 5@101 kept']);
        expect(ids(d.book, 'sell')).toEqual([1, 2, 3]);
      });

      test('a GTD order past its expiry cannot be amended', () => {
        const e = newDriver();
        e.sell(100, 5, { expiresAt: e.now + 10 });
        e.now += 10;
        expect(summarize(e.amend(1, { quantity: 3 }))).toEqual(['rejected ORDER_EXPIRED']);
        expect(summarize(e.expire())).toEqual(['expired #1 5']);
      });
    });

    describe('cancel', () => {
      test('removes the order and reports its open quantity', () => {
        expect(d.cancel(2, 'dave')).toEqual([
          { type: 'cancelled', orderId: 2, owner: 'dave', side: 'sell', priceTicks: 101, remaining: 10, reason: 'user' },
        ]);
        expect(d.book.depth('sell')).toEqual([
          { priceTicks: 101, quantity: 5, orderCount: 1 },
          { priceTicks: 103, quantity: 7, orderCount: 1 },
        ]);
      });

      test('an emptied level disappears and the best price moves', () => {
        d.cancel(4, 'dave');
        expect(d.book.bestPrice('buy')).toBe(98);
        d.cancel(5, 'carol');
        d.cancel(6, 'dave');
        expect(d.book.bestPrice('buy')).toBeUndefined();
      });

      test('of a partly filled order reports what was left', () => {
        d.buy(101, 3);
        expect(summarize(d.cancel(1, 'carol'))).toEqual(['cancelled #1 2 user']);
      });

      test("of an unknown, another owner's, or an already cancelled order is UNKNOWN_ORDER", () => {
        expect(summarize(d.cancel(2, 'alice'))).toEqual(['rejected UNKNOWN_ORDER']);
        d.cancel(2, 'dave');
        expect(d.cancel(2, 'dave')).toEqual([{ type: 'rejected', code: RejectCode.UNKNOWN_ORDER, orderId: 2 }]);
      });
    });

    describe('mass cancel', () => {
      test("cancels all the owner's orders on both sides, in order id order", () => {
        expect(summarize(d.cancelAll('carol'))).toEqual([
          'cancelled #1 5 mass_cancel',
          'cancelled #3 7 mass_cancel',
          'cancelled #5 6 mass_cancel',
        ]);
        expect([...ids(d.book, 'sell'), ...ids(d.book, 'buy')]).toEqual([2, 4, 6]);
      });

      test('keeps order id order after amends moved orders around', () => {
        d.amend(1, { priceTicks: 104 }, 'carol');
        d.amend(5, { priceTicks: 97 }, 'carol');
        expect(summarize(d.cancelAll('carol')).map((line) => line.split(' ')[1])).toEqual(['#1', '#3', '#5']);
      });

      test('for an owner without orders does nothing', () => {
        expect(d.cancelAll('alice')).toEqual([]);
      });
    });

    describe('GTD expiry', () => {
      test('expire removes orders due at or before its time, earliest first, then by id', () => {
        const e = newDriver();
        const t = e.now;
        e.sell(110, 1, { expiresAt: t + 30 });
        e.sell(111, 1, { expiresAt: t + 10 });
        e.buy(90, 1, { expiresAt: t + 10 });
        e.buy(91, 1);
        e.sell(112, 1, { expiresAt: t + 50 });
        expect(e.expire(t + 9)).toEqual([]);
        expect(e.expire(t + 30)).toEqual([
          { type: 'expired', orderId: 2, owner: 'alice', side: 'sell', priceTicks: 111, remaining: 1 },
          { type: 'expired', orderId: 3, owner: 'alice', side: 'buy', priceTicks: 90, remaining: 1 },
          { type: 'expired', orderId: 1, owner: 'alice', side: 'sell', priceTicks: 110, remaining: 1 },
        ]);
        expect(e.expire(t + 49)).toEqual([]);
        expect([...ids(e.book, 'buy'), ...ids(e.book, 'sell')]).toEqual([4, 5]);
      });

      test('nextExpiry is the earliest resting GTD expiry, and follows cancels, fills and expiry', () => {
        const e = newDriver();
        const t = e.now;
        expect(e.book.nextExpiry()).toBeUndefined();
        e.sell(110, 1, { expiresAt: t + 30 });
        e.sell(111, 1, { expiresAt: t + 10 });
        e.buy(90, 1);
        expect(e.book.nextExpiry()).toBe(t + 10);
        e.cancel(2, 'alice');
        expect(e.book.nextExpiry()).toBe(t + 30);
        e.expire(t + 30);
        expect(e.book.nextExpiry()).toBeUndefined();
      });

      test('a taker expires makers past their time instead of trading with them', () => {
        const e = newDriver();
        e.sell(100, 5, { owner: 'carol', expiresAt: e.now + 10 });
        e.sell(100, 5, { owner: 'carol' });
        e.now += 10;
        expect(summarize(e.buy(100, 5).events)).toEqual(['accepted #3 buy 5@100', 'expired #1 5', 'trade #2/#3 5@100 left 0/0']);
      });

      test('cancelled and filled GTD orders are not expired later', () => {
        const e = newDriver();
        e.sell(100, 5, { owner: 'carol', expiresAt: e.now + 10 });
        e.sell(101, 5, { owner: 'carol', expiresAt: e.now + 10 });
        e.cancel(1, 'carol');
        e.buy(101, 5);
        expect(e.expire(e.now + 10)).toEqual([]);
      });
    });

    describe('validation', () => {
      const place = { type: 'place', orderId: 7, owner: 'alice', side: 'buy', orderType: 'limit', priceTicks: 90, quantity: 1, timeInForce: 'GTC' } as const;
      const market = { ...place, orderType: 'market', priceTicks: undefined, timeInForce: 'IOC' } as const;
      const cases: [string, RejectCode, Record<string, unknown>][] = [
        ['timestamp below zero', RejectCode.INVALID_TIMESTAMP, { ...place, timestamp: -1 }],
        ['fractional timestamp', RejectCode.INVALID_TIMESTAMP, { ...place, timestamp: 1.5 }],
        ['order id zero', RejectCode.INVALID_ORDER_ID, { ...place, orderId: 0 }],
        ['fractional order id', RejectCode.INVALID_ORDER_ID, { ...place, orderId: 7.5 }],
        ['order id of a resting order', RejectCode.DUPLICATE_ORDER_ID, { ...place, orderId: 6 }],
        ['order id below the last accepted', RejectCode.DUPLICATE_ORDER_ID, { ...place, orderId: 3 }],
        ['empty owner', RejectCode.INVALID_OWNER, { ...place, owner: '' }],
        ['unknown side', RejectCode.INVALID_SIDE, { ...place, side: 'up' }],
        ['unknown order type', RejectCode.INVALID_ORDER_TYPE, { ...place, orderType: 'stop' }],
        ['zero quantity', RejectCode.INVALID_QUANTITY, { ...place, quantity: 0 }],
        ['negative quantity', RejectCode.INVALID_QUANTITY, { ...place, quantity: -3 }],
        ['fractional quantity', RejectCode.INVALID_QUANTITY, { ...place, quantity: 2.5 }],
        ['NaN quantity', RejectCode.INVALID_QUANTITY, { ...place, quantity: Number.NaN }],
        ['unsafe quantity', RejectCode.INVALID_QUANTITY, { ...place, quantity: 2 ** 53 }],
        ['string quantity', RejectCode.INVALID_QUANTITY, { ...place, quantity: '5' }],
        ['limit without price', RejectCode.INVALID_PRICE, { ...place, priceTicks: undefined }],
        ['zero price', RejectCode.INVALID_PRICE, { ...place, priceTicks: 0 }],
        ['fractional price', RejectCode.INVALID_PRICE, { ...place, priceTicks: 99.5 }],
        ['market with a price', RejectCode.INVALID_PRICE, { ...market, priceTicks: 100 }],
        ['unknown time in force', RejectCode.INVALID_TIME_IN_FORCE, { ...place, timeInForce: 'DAY' }],
        ['market GTC', RejectCode.INVALID_TIME_IN_FORCE, { ...market, timeInForce: 'GTC' }],
        ['GTD without expiry', RejectCode.INVALID_EXPIRY, { ...place, timeInForce: 'GTD' }],
        ['GTD expiring at placement', RejectCode.INVALID_EXPIRY, { ...place, timeInForce: 'GTD', expiresAt: 1000, timestamp: 1000 }],
        ['GTC with an expiry', RejectCode.INVALID_EXPIRY, { ...place, expiresAt: 2 ** 50 }],
        ['post-only IOC', RejectCode.INVALID_POST_ONLY, { ...place, timeInForce: 'IOC', postOnly: true }],
        ['post-only market', RejectCode.INVALID_POST_ONLY, { ...market, postOnly: true }],
        ['non-boolean post-only', RejectCode.INVALID_POST_ONLY, { ...place, postOnly: 'yes' }],
        ['unknown STP mode', RejectCode.INVALID_STP_MODE, { ...place, stp: 'allow' }],
        ['amend without changes', RejectCode.INVALID_AMEND, { type: 'amend', orderId: 1, owner: 'carol' }],
        ['amend to price zero', RejectCode.INVALID_PRICE, { type: 'amend', orderId: 1, owner: 'carol', priceTicks: 0 }],
        ['amend to quantity zero', RejectCode.INVALID_QUANTITY, { type: 'amend', orderId: 1, owner: 'carol', quantity: 0 }],
        ['amend of order id -1', RejectCode.INVALID_ORDER_ID, { type: 'amend', orderId: -1, owner: 'carol', quantity: 1 }],
        ['amend without owner', RejectCode.INVALID_OWNER, { type: 'amend', orderId: 1, quantity: 1 }],
        ['cancel of order id zero', RejectCode.INVALID_ORDER_ID, { type: 'cancel', orderId: 0, owner: 'carol' }],
        ['cancel without owner', RejectCode.INVALID_OWNER, { type: 'cancel', orderId: 1, owner: '' }],
        ['mass cancel without owner', RejectCode.INVALID_OWNER, { type: 'cancel_all', owner: '' }],
        ['reference price zero', RejectCode.INVALID_PRICE, { type: 'set_reference_price', priceTicks: 0 }],
        ['unknown command', RejectCode.UNKNOWN_COMMAND, { type: 'halt' }],
      ];

      test.each(cases)('%s: %s, and only the sequence advances', (_, code, command) => {
        const before = d.book.snapshot();
        const events = d.send(command as DriverCommand);
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ type: 'rejected', code });
        expect(d.book.snapshot()).toEqual({ ...before, lastSequence: before.lastSequence + 1 });
      });

      test('a rejection names the order of commands that name one', () => {
        expect(d.send({ ...place, quantity: 0 })).toEqual([{ type: 'rejected', code: RejectCode.INVALID_QUANTITY, orderId: 7 }]);
        expect(d.send({ type: 'cancel_all', owner: '' })).toEqual([{ type: 'rejected', code: RejectCode.INVALID_OWNER }]);
      });

      test('a command out of sequence is rejected without advancing the sequence', () => {
        expect(d.book.lastSequence).toBe(6);
        for (const seq of [8, 6, 0]) {
          expect(d.send({ ...place, seq })).toEqual([{ type: 'rejected', code: RejectCode.INVALID_SEQUENCE, orderId: 7 }]);
        }
        expect(d.book.lastSequence).toBe(6);
        expect(summarize(d.send({ ...place, seq: 7 }))).toEqual(['accepted #7 buy 1@90']);
        expect(d.book.lastSequence).toBe(7);
      });

      test('a configuration outside 0 to 10 000 collar bps throws', () => {
        for (const collarBps of [-1, 10_001, 2.5]) expect(() => factory.create({ collarBps })).toThrow(RangeError);
      });
    });

    describe('views', () => {
      test('depth aggregates levels, best first, up to maxLevels', () => {
        expect(d.book.depth('sell', 1)).toEqual([{ priceTicks: 101, quantity: 15, orderCount: 2 }]);
        expect(d.book.depth('buy')).toEqual([
          { priceTicks: 99, quantity: 4, orderCount: 1 },
          { priceTicks: 98, quantity: 8, orderCount: 2 },
        ]);
      });

      test('findOrder shows resting orders only', () => {
        expect(d.book.findOrder(3)).toEqual({
          orderId: 3, owner: 'carol', side: 'sell', priceTicks: 103, quantity: 7, remaining: 7,
          timeInForce: 'GTC', postOnly: false, stp: 'cancel_taker',
        });
        d.buy(101, 5);
        expect(d.book.findOrder(1)).toBeUndefined();
        expect(d.book.findOrder(42)).toBeUndefined();
      });
    });

    describe('snapshot and restore', () => {
      test('a snapshot lists the orders in priority with everything needed to rebuild the book', () => {
        d.buy(101, 1);
        d.sell(104, 3, { owner: 'bob', expiresAt: d.now + 60_000, postOnly: true, stp: 'cancel_both' });
        const snapshot = d.book.snapshot();
        expect(snapshot).toMatchObject({ version: 1, config: { collarBps: 1000 }, lastSequence: 8, lastOrderId: 8, referencePriceTicks: 101 });
        expect(snapshot.bids.map((o) => o.orderId)).toEqual([4, 5, 6]);
        expect(snapshot.asks.map((o) => o.orderId)).toEqual([1, 2, 3, 8]);
        expect(snapshot.asks[3]).toEqual({
          orderId: 8, owner: 'bob', side: 'sell', priceTicks: 104, quantity: 3, remaining: 3,
          timeInForce: 'GTD', expiresAt: d.now + 60_000, postOnly: true, stp: 'cancel_both',
        });
      });

      test('a restored book continues exactly like the original', () => {
        d.sell(104, 3, { owner: 'bob', expiresAt: d.now + 10 });
        d.buy(101, 1);
        const restored = new BookDriver(track(factory.restore(JSON.parse(JSON.stringify(d.book.snapshot())) as BookSnapshot)));
        const script: DriverCommand[] = [
          { type: 'place', orderId: 20, owner: 'bob', side: 'buy', orderType: 'limit', priceTicks: 101, quantity: 6, timeInForce: 'GTC' },
          { type: 'amend', orderId: 5, owner: 'carol', priceTicks: 99 },
          { type: 'place', orderId: 21, owner: 'alice', side: 'sell', orderType: 'market', quantity: 9, timeInForce: 'IOC' },
          { type: 'expire', timestamp: d.now + 10 },
          { type: 'cancel_all', owner: 'dave' },
        ];
        for (const command of script) expect(restored.send(command)).toEqual(d.send(command));
        expect(restored.book.snapshot()).toEqual(d.book.snapshot());
      });

      test('restore refuses a snapshot of an unknown version', () => {
        const snapshot = { ...d.book.snapshot(), version: 2 } as unknown as BookSnapshot;
        expect(() => factory.restore(snapshot)).toThrow(/version/);
      });
    });
  });
}

describeOrderBook('ReferenceOrderBook', {
  create: (config) => new ReferenceOrderBook(config),
  restore: (snapshot) => ReferenceOrderBook.restore(snapshot),
});

describeOrderBook('FastOrderBook', {
  create: (config) => new FastOrderBook(config),
  restore: (snapshot) => FastOrderBook.restore(snapshot),
});

test('the fast book reuses its event array and objects: events are valid until the next command', () => {
  const book = new FastOrderBook();
  const place = (seq: number): Command => ({
    type: 'place', seq, timestamp: 0, orderId: seq, owner: 'alice', side: 'buy', orderType: 'limit', priceTicks: 100, quantity: 1, timeInForce: 'GTC',
  });
  const first = book.execute(place(1));
  expect(first[0]).toMatchObject({ type: 'accepted', orderId: 1 });
  const second = book.execute(place(2));
  expect(second).toBe(first);
  expect(first[0]).toMatchObject({ type: 'accepted', orderId: 2 });
});
