import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import type { Side } from '../types.js';
import { BookOrder } from './book-order.js';
import { BookSide } from './book-side.js';

function restingOrder(orderId: number, side: Side, priceTicks: number, quantity: number): BookOrder {
  const order = new BookOrder();
  Object.assign(order, { orderId, side, priceTicks, quantity, remaining: quantity });
  return order;
}

/** The levels a side shows by walking its price-ordered list from the best level. */
function walk(side: BookSide): { priceTicks: number; orderIds: number[]; totalQuantity: number }[] {
  const levels = [];
  for (let level = side.best; level !== null; level = level.worse) {
    const orderIds = [];
    for (let order = level.head; order !== null; order = order.next) orderIds.push(order.orderId);
    levels.push({ priceTicks: level.priceTicks, orderIds, totalQuantity: level.totalQuantity });
  }
  return levels;
}

/** What the side should show: the model's orders grouped by price, best first, in arrival order. */
function levelsOf(model: readonly BookOrder[], side: Side): ReturnType<typeof walk> {
  const byPrice = new Map<number, BookOrder[]>();
  for (const order of model) byPrice.set(order.priceTicks, [...(byPrice.get(order.priceTicks) ?? []), order]);
  return [...byPrice.keys()]
    .sort((a, b) => (side === 'buy' ? b - a : a - b))
    .map((priceTicks) => {
      const orders = byPrice.get(priceTicks) as BookOrder[];
      return { priceTicks, orderIds: orders.map((o) => o.orderId), totalQuantity: orders.reduce((sum, o) => sum + o.remaining, 0) };
    });
}

describe('BookSide', () => {
  test('keeps asks ascending and bids descending, each level first in, first out', () => {
    const asks = new BookSide('sell');
    const bids = new BookSide('buy');
    [[1, 103], [2, 101], [3, 102], [4, 101]].forEach(([id, price]) => asks.append(restingOrder(id, 'sell', price, 1)));
    [[5, 97], [6, 99], [7, 98], [8, 99]].forEach(([id, price]) => bids.append(restingOrder(id, 'buy', price, 1)));
    expect(walk(asks).map((l) => [l.priceTicks, l.orderIds])).toEqual([[101, [2, 4]], [102, [3]], [103, [1]]]);
    expect(walk(bids).map((l) => [l.priceTicks, l.orderIds])).toEqual([[99, [6, 8]], [98, [7]], [97, [5]]]);
    asks.verifyIntegrity();
    bids.verifyIntegrity();
  });

  test('reduce lowers an order and its level total in place', () => {
    const asks = new BookSide('sell');
    const order = restingOrder(1, 'sell', 100, 10);
    asks.append(order);
    asks.append(restingOrder(2, 'sell', 100, 5));
    asks.reduce(order, 4);
    expect(walk(asks)).toEqual([{ priceTicks: 100, orderIds: [1, 2], totalQuantity: 11 }]);
  });

  // The red-black tree is checked (colours, black heights, links, order) after every operation,
  // against a model that is just the list of resting orders.
  test.each(['buy', 'sell'] as const)('stays a valid red-black tree matching a model under random appends, moves and removals (%s)', (sideName) => {
    const operation = fc.oneof(
      { weight: 3, arbitrary: fc.record({ append: fc.constant(true as const), priceTicks: fc.integer({ min: 1, max: 40 }), quantity: fc.integer({ min: 1, max: 9 }) }) },
      { weight: 2, arbitrary: fc.record({ append: fc.constant(false as const), pick: fc.nat(), moveTo: fc.option(fc.integer({ min: 1, max: 40 })) }) },
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 300, size: 'max' }), (operations) => {
        const side = new BookSide(sideName);
        const model: BookOrder[] = [];
        let nextId = 1;
        for (const op of operations) {
          if (op.append) {
            const order = restingOrder(nextId++, sideName, op.priceTicks, op.quantity);
            side.append(order);
            model.push(order);
          } else if (model.length > 0) {
            // A removal, or a move (how an amend re-prices): remove, then append near the old place.
            const [order] = model.splice(op.pick % model.length, 1);
            const near = side.remove(order);
            if (op.moveTo !== null) {
              order.priceTicks = op.moveTo;
              side.append(order, near);
              model.push(order);
            }
          }
          side.verifyIntegrity();
          expect(JSON.stringify(walk(side))).toBe(JSON.stringify(levelsOf(model, sideName)));
        }
      }),
      { numRuns: 60 },
    );
  });
});
