import { describe, expect, test } from '@jest/globals';
import type { LiveOrder } from './live-order.js';
import { LiveOrders } from './live-orders.js';

/** A stand-in decoder: the stored form is the order's id as text; it counts what it decodes. */
function ordersKept(ids: number[]) {
  const decoded: string[] = [];
  const orders = new LiveOrders((stored) => {
    decoded.push(stored as string);
    return { id: Number(stored), status: 'open' } as LiveOrder;
  });
  for (const id of ids) orders.keep(id, String(id));
  return { orders, decoded };
}

describe('LiveOrders', () => {
  test('decodes a kept order when it is first asked for, and only then, once', () => {
    const { orders, decoded } = ordersKept([1, 2, 3]);
    expect(orders.size).toBe(3);
    expect(decoded).toEqual([]);
    const first = orders.get(2);
    expect(first).toMatchObject({ id: 2 });
    expect(orders.get(2)).toBe(first);
    expect(decoded).toEqual(['2']);
    expect(orders.get(9)).toBeUndefined();
    expect(orders.size).toBe(3);
  });

  test('an order set replaces what was kept; a deleted one is gone in either form', () => {
    const { orders, decoded } = ordersKept([1, 2, 3]);
    const replaced = { id: 1, status: 'filled' } as LiveOrder;
    orders.set(1, replaced);
    expect(orders.get(1)).toBe(replaced);
    orders.get(2);
    orders.delete(2);
    orders.delete(3);
    expect([orders.get(2), orders.get(3), orders.size]).toEqual([undefined, undefined, 1]);
    expect(decoded).toEqual(['2']);
  });

  test('a walk decodes every kept order and sees each once', () => {
    const { orders, decoded } = ordersKept([1, 2, 3, 4]);
    orders.get(3);
    orders.set(5, { id: 5, status: 'open' } as LiveOrder);
    expect([...orders.values()].map((o) => o.id).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(decoded.sort()).toEqual(['1', '2', '3', '4']);
    expect(orders.size).toBe(5);
  });

  test('once fewer than an eighth of the kept orders are left, decodes them and lets its decoder go', () => {
    const { orders, decoded } = ordersKept(Array.from({ length: 16 }, (_, i) => i + 1));
    for (let id = 1; id <= 14; id++) orders.delete(id); // 2 of 16 left: an eighth, not fewer
    expect(decoded).toEqual([]);
    orders.set(15, { id: 15, status: 'open' } as LiveOrder); // 1 left
    expect(decoded).toEqual(['16']);
    expect(orders.get(16)).toMatchObject({ id: 16 });
    expect(orders.size).toBe(2);
    orders.keep(99, '99'); // nothing reads it now: its decoder is gone
    expect(() => orders.get(99)).toThrow(/without a decoder/);
  });

  test('without a decoder, keeping then asking is a bug, said loudly', () => {
    const orders = new LiveOrders();
    orders.keep(1, 'x');
    expect(() => orders.get(1)).toThrow(/without a decoder/);
  });
});
