import { expect } from '@jest/globals';
import type { OrderBook, OrderBookFactory } from '../order-book.js';
import { toRestingOrder } from '../order-fields.js';
import type { DepthLevel, RestingOrder, Side } from '../types.js';

/**
 * What must hold of any book between commands, checked only through the OrderBook interface
 * (plus the book's own verifyIntegrity). The shared suite calls it before and after every test.
 */
export function checkInvariants(book: OrderBook, factory: OrderBookFactory): void {
  book.verifyIntegrity();
  const bid = book.bestPrice('buy');
  const ask = book.bestPrice('sell');
  if (bid !== undefined && ask !== undefined) expect(bid).toBeLessThan(ask);
  for (const side of ['buy', 'sell'] as const) checkSide(book, side);

  // A snapshot is plain JSON and restores to the same book.
  const snapshot = book.snapshot();
  expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
  expect(factory.restore(snapshot).snapshot()).toEqual(snapshot);
}

function checkSide(book: OrderBook, side: Side): void {
  const orders = book.orders(side);
  // The walk without copies sees every order once, as the id index holds it (its priority order
  // is checked where orders() is compared across the two books: the fast book's is built on it).
  const visited: RestingOrder[] = [];
  book.forEachOrder(side, (order) => visited.push(toRestingOrder(order)));
  for (const order of visited) expect(book.findOrder(order.orderId)).toEqual(order);
  expect(new Set(visited.map((o) => o.orderId)).size).toBe(visited.length);
  const depth = book.depth(side);
  expect(depth).toEqual(aggregate(orders));
  expect(visited.length).toBe(depth.reduce((n, level) => n + level.orderCount, 0));
  expect(book.bestPrice(side)).toBe(depth[0]?.priceTicks);
  const better = side === 'buy' ? (a: number, b: number) => a > b : (a: number, b: number) => a < b;
  for (let i = 1; i < depth.length; i++) expect(better(depth[i - 1].priceTicks, depth[i].priceTicks)).toBe(true);
  for (const order of orders) {
    expect(order.side).toBe(side);
    expect(order.remaining).toBeGreaterThan(0);
    expect(order.remaining).toBeLessThanOrEqual(order.quantity);
    expect(order.expiresAt !== undefined).toBe(order.timeInForce === 'GTD');
    expect(book.findOrder(order.orderId)).toEqual(order);
  }
}

function aggregate(orders: readonly RestingOrder[]): DepthLevel[] {
  const levels: { priceTicks: number; quantity: number; orderCount: number }[] = [];
  for (const order of orders) {
    const last = levels.at(-1);
    if (last?.priceTicks === order.priceTicks) {
      last.quantity += order.remaining;
      last.orderCount += 1;
    } else {
      levels.push({ priceTicks: order.priceTicks, quantity: order.remaining, orderCount: 1 });
    }
  }
  return levels;
}
