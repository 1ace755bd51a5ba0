import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import type { Command } from './commands.js';
import type { BookEvent } from './events.js';
import { FastOrderBook } from './fast/fast-order-book.js';
import type { OrderBook } from './order-book.js';
import { ReferenceOrderBook } from './reference/reference-order-book.js';
import { collarLimit } from './rules.js';
import { copyEvents, START_TIME } from './testing/book-driver.js';
import type { BookConfig, RestingOrder, Side, StpMode, TimeInForce } from './types.js';

// Random command sequences over a narrow price band and three owners, so that orders cross,
// queue, self-trade, expire and get amended often. Each sequence runs through both books in
// lockstep; every property reads what happened from the recorded steps.

const CONFIG: BookConfig = { collarBps: 300 }; // ±3 % around ~100 ticks: the collar binds inside the band
const MID = 100;
const OWNERS: readonly string[] = ['ann', 'ben', 'cat'];

type Action =
  | {
      kind: 'place';
      dt: number;
      owner: string;
      side: Side;
      market: boolean;
      priceOffset: number;
      quantity: number;
      timeInForce: TimeInForce;
      expiresIn: number;
      postOnly: boolean;
      stp: StpMode;
    }
  | { kind: 'amend'; dt: number; pick: number; priceOffset: number | null; quantityChange: number | null; foreign: boolean }
  | { kind: 'cancel'; dt: number; pick: number; foreign: boolean }
  | { kind: 'cancel_all'; dt: number; owner: string }
  | { kind: 'expire'; dt: number }
  | { kind: 'set_reference_price'; dt: number; priceOffset: number };

const rarely = (oneIn: number) => fc.nat(oneIn - 1).map((n) => n === 0);
const dt = fc.nat(3);
const owner = fc.constantFrom(...OWNERS);
const priceOffset = fc.integer({ min: -5, max: 5 });

const actionArbitrary: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 60,
    arbitrary: fc.record({
      kind: fc.constant('place' as const),
      dt,
      owner,
      side: fc.constantFrom<Side>('buy', 'sell'),
      market: rarely(8),
      priceOffset: fc.integer({ min: -4, max: 4 }),
      quantity: fc.oneof({ weight: 40, arbitrary: fc.integer({ min: 1, max: 10 }) }, { weight: 1, arbitrary: fc.constant(0) }),
      timeInForce: fc.constantFrom<TimeInForce>('GTC', 'GTC', 'IOC', 'FOK', 'GTD'),
      expiresIn: fc.integer({ min: 1, max: 60 }),
      postOnly: rarely(6),
      stp: fc.constantFrom<StpMode>('cancel_taker', 'cancel_maker', 'cancel_both'),
    }),
  },
  {
    weight: 20,
    arbitrary: fc.record({
      kind: fc.constant('amend' as const),
      dt,
      pick: fc.nat(),
      priceOffset: fc.option(priceOffset),
      quantityChange: fc.option(fc.integer({ min: -6, max: 6 })),
      foreign: rarely(10),
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('cancel' as const), dt, pick: fc.nat(), foreign: rarely(10) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel_all' as const), dt, owner }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('expire' as const), dt }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('set_reference_price' as const), dt, priceOffset }) },
);

const actionsArbitrary = fc.array(actionArbitrary, { maxLength: 150, size: 'max' });

interface Step {
  command: Command;
  /** Resting orders before the command, in priority order. */
  before: { buy: RestingOrder[]; sell: RestingOrder[]; referencePriceTicks: number | undefined };
  expected: BookEvent[];
  actual: BookEvent[];
}

/** Turns an action into a concrete command, aiming amends and cancels at orders that rest now. */
function toCommand(action: Action, book: OrderBook, seq: number, timestamp: number, nextOrderId: number): Command {
  const resting = [...book.orders('buy'), ...book.orders('sell')];
  // A resting order, named by its owner or, when `foreign`, by another owner. In an empty book,
  // an id that was probably used before.
  const target = (pick: number, foreign: boolean) => {
    const order = resting.length > 0 ? resting[pick % resting.length] : undefined;
    const ownerIndex = order === undefined ? pick : OWNERS.indexOf(order.owner);
    return {
      order,
      orderId: order?.orderId ?? (pick % nextOrderId) + 1,
      owner: OWNERS[(ownerIndex + (foreign ? 1 : 0)) % OWNERS.length],
    };
  };
  switch (action.kind) {
    case 'place': {
      const { market, timeInForce } = action;
      return {
        type: 'place', seq, timestamp, orderId: nextOrderId, owner: action.owner, side: action.side,
        orderType: market ? 'market' : 'limit',
        // Buyers bid below the middle and sellers ask above it, overlapping enough to cross.
        priceTicks: market ? undefined : MID + action.priceOffset + (action.side === 'buy' ? -2 : 2),
        quantity: action.quantity,
        timeInForce: market ? (timeInForce === 'FOK' ? 'FOK' : 'IOC') : timeInForce,
        expiresAt: !market && timeInForce === 'GTD' ? timestamp + action.expiresIn : undefined,
        postOnly: action.postOnly,
        stp: action.stp,
      };
    }
    case 'amend': {
      const { order, orderId, owner } = target(action.pick, action.foreign);
      return {
        type: 'amend', seq, timestamp, orderId, owner,
        priceTicks: action.priceOffset === null ? undefined : MID + action.priceOffset,
        quantity: action.quantityChange === null ? undefined : (order?.quantity ?? 5) + action.quantityChange,
      };
    }
    case 'cancel': {
      const { orderId, owner } = target(action.pick, action.foreign);
      return { type: 'cancel', seq, timestamp, orderId, owner };
    }
    case 'cancel_all':
      return { type: 'cancel_all', seq, timestamp, owner: action.owner };
    case 'expire':
      return { type: 'expire', seq, timestamp };
    case 'set_reference_price':
      return { type: 'set_reference_price', seq, timestamp, priceTicks: MID + action.priceOffset };
  }
}

/** Runs the actions through both books in lockstep; `afterStep` sees both books after each command. */
function run(actions: Action[], afterStep?: (reference: OrderBook, fast: OrderBook) => void) {
  const reference = new ReferenceOrderBook(CONFIG);
  const fast = new FastOrderBook(CONFIG);
  const steps: Step[] = [];
  let now = START_TIME;
  let nextOrderId = 1;
  for (const action of actions) {
    now += action.dt;
    const command = toCommand(action, reference, reference.lastSequence + 1, now, nextOrderId);
    if (command.type === 'place') nextOrderId += 1;
    const before = { buy: reference.orders('buy'), sell: reference.orders('sell'), referencePriceTicks: reference.referencePriceTicks };
    const expected = copyEvents(reference.execute(command));
    const actual = copyEvents(fast.execute(command));
    steps.push({ command, before, expected, actual });
    afterStep?.(reference, fast);
  }
  return { steps, fast };
}

/** The order a step's command makes take liquidity: the placed order, or the amended one. */
function takerOf(step: Step): { orderId: number; side: Side; limit: number | undefined; postOnly: boolean } | undefined {
  const { command, before } = step;
  if (command.type === 'place') {
    return { orderId: command.orderId, side: command.side, limit: command.priceTicks, postOnly: command.postOnly === true };
  }
  if (command.type === 'amend') {
    const order = [...before.buy, ...before.sell].find((o) => o.orderId === command.orderId);
    if (order === undefined) return undefined;
    return { orderId: order.orderId, side: order.side, limit: command.priceTicks ?? order.priceTicks, postOnly: order.postOnly };
  }
  return undefined;
}

/** Resting orders the command touched, in order: traded with, cancelled by STP, or expired on the way. */
function makersTouched(step: Step, takerId: number): number[] {
  const touched: number[] = [];
  for (const event of step.actual) {
    if (event.type === 'trade') touched.push(event.makerOrderId);
    else if (event.type === 'expired') touched.push(event.orderId);
    else if (event.type === 'cancelled' && event.reason === 'stp' && event.orderId !== takerId) touched.push(event.orderId);
  }
  return touched;
}

/** toEqual, with a cheap first look: both books build their objects with the same key order. */
function expectSame<T>(actual: T, expected: T): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) expect(actual).toEqual(expected);
}

const property = (runs: number, check: (actions: Action[]) => void) =>
  fc.assert(fc.property(actionsArbitrary, check), { numRuns: runs });

describe('order book properties over random command sequences', () => {
  test('the fast book and the reference book emit identical events and hold identical books', () => {
    property(500, (actions) => {
      const { steps } = run(actions, (reference, fast) => {
        fast.verifyIntegrity();
        expectSame(fast.snapshot(), reference.snapshot());
      });
      for (const step of steps) expectSame(step.actual, step.expected);
    });
  });

  test('the book is never crossed at rest', () => {
    property(200, (actions) => {
      run(actions, (_, fast) => {
        const bid = fast.bestPrice('buy');
        const ask = fast.bestPrice('sell');
        if (bid !== undefined && ask !== undefined) expect(bid).toBeLessThan(ask);
      });
    });
  });

  test('quantity is conserved: filled + resting + cancelled or expired = submitted', () => {
    property(200, (actions) => {
      const { steps, fast } = run(actions);
      const orders = new Map<number, { quantity: number; filled: number; closed: number }>();
      const get = (orderId: number) => orders.get(orderId) as { quantity: number; filled: number; closed: number };
      for (const event of steps.flatMap((s) => s.actual)) {
        if (event.type === 'accepted') orders.set(event.orderId, { quantity: event.quantity, filled: 0, closed: 0 });
        if (event.type === 'amended') {
          get(event.orderId).quantity = event.quantity;
          expect(event.remaining).toBe(event.quantity - get(event.orderId).filled);
        }
        if (event.type === 'trade') {
          get(event.makerOrderId).filled += event.quantity;
          get(event.takerOrderId).filled += event.quantity;
        }
        if (event.type === 'cancelled' || event.type === 'expired') get(event.orderId).closed += event.remaining;
      }
      for (const [orderId, { quantity, filled, closed }] of orders) {
        const resting = fast.findOrder(orderId)?.remaining ?? 0;
        expect(filled + resting + closed).toBe(quantity);
      }
    });
  });

  test('price-time priority: a taker meets resting orders best price first, then oldest first', () => {
    property(200, (actions) => {
      for (const step of run(actions).steps) {
        const taker = takerOf(step);
        if (taker === undefined) continue;
        const queue = step.before[taker.side === 'buy' ? 'sell' : 'buy'].map((o) => o.orderId);
        const touched = makersTouched(step, taker.orderId);
        expect(touched).toEqual(queue.slice(0, touched.length));
      }
    });
  });

  test("every trade is at the maker's resting price, within the taker's limit", () => {
    property(200, (actions) => {
      for (const step of run(actions).steps) {
        const resting = new Map([...step.before.buy, ...step.before.sell].map((o) => [o.orderId, o]));
        const taker = takerOf(step);
        for (const event of step.actual) {
          if (event.type !== 'trade') continue;
          expect(event.priceTicks).toBe(resting.get(event.makerOrderId)?.priceTicks);
          const limit = taker?.limit;
          if (limit !== undefined) expect(event.takerSide === 'buy' ? event.priceTicks <= limit : event.priceTicks >= limit).toBe(true);
        }
      }
    });
  });

  test('FOK orders fill completely or are rejected with nothing else happening', () => {
    property(200, (actions) => {
      for (const { command, actual } of run(actions).steps) {
        if (command.type !== 'place' || command.timeInForce !== 'FOK') continue;
        if (actual[0].type === 'rejected') {
          expect(actual).toHaveLength(1);
        } else {
          const filled = actual.filter((e) => e.type === 'trade').reduce((sum, e) => sum + e.quantity, 0);
          expect(filled).toBe(command.quantity);
          expect(actual.some((e) => e.type === 'cancelled' && e.orderId === command.orderId)).toBe(false);
        }
      }
    });
  });

  test('post-only orders never take liquidity, placed or amended', () => {
    property(200, (actions) => {
      for (const step of run(actions).steps) {
        const taker = takerOf(step);
        if (taker?.postOnly !== true) continue;
        expect(step.actual.some((e) => e.type === 'trade' && e.takerOrderId === taker.orderId)).toBe(false);
      }
    });
  });

  test('market orders never rest and trade only inside the collar', () => {
    property(200, (actions) => {
      const { steps, fast } = run(actions);
      for (const { command, before, actual } of steps) {
        if (command.type !== 'place' || command.orderType !== 'market') continue;
        expect(fast.findOrder(command.orderId)).toBeUndefined();
        const { referencePriceTicks } = before;
        if (referencePriceTicks === undefined) continue;
        const limit = collarLimit(referencePriceTicks, CONFIG.collarBps, command.side);
        for (const trade of actual.filter((e) => e.type === 'trade')) {
          expect(command.side === 'buy' ? trade.priceTicks <= limit : trade.priceTicks >= limit).toBe(true);
        }
      }
    });
  });

  test('replaying the journal from the start, or from any snapshot, gives the same events and book', () => {
    fc.assert(
      fc.property(actionsArbitrary, fc.nat(), (actions, cut) => {
        const { steps, fast: original } = run(actions);
        const at = cut % (steps.length + 1);
        const head = new FastOrderBook(CONFIG);
        for (const { command } of steps.slice(0, at)) head.execute(command);
        const snapshot = JSON.parse(JSON.stringify(head.snapshot()));
        // One order at a time too, the sides interleaved, as a book's load streams them.
        const restoring = FastOrderBook.restoring(snapshot.config);
        const [bids, asks] = [[...snapshot.bids], [...snapshot.asks]];
        for (let turn = cut; bids.length + asks.length > 0; turn++) {
          const fromBids = asks.length === 0 || (bids.length > 0 && turn % 3 !== 0);
          restoring.add(fromBids ? bids.shift()! : asks.shift()!);
        }
        const streamed = restoring.finish(snapshot);
        for (const restored of [FastOrderBook.restore(snapshot), ReferenceOrderBook.restore(snapshot), streamed]) {
          for (const { command, actual } of steps.slice(at)) expectSame(copyEvents(restored.execute(command)), actual);
          expectSame(restored.snapshot(), original.snapshot());
        }
      }),
      { numRuns: 200 },
    );
  });
});
