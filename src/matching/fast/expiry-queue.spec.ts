import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { BookOrder } from './book-order.js';
import { ExpiryQueue } from './expiry-queue.js';

function gtdOrder(orderId: number, expiresAt: number): BookOrder {
  const order = new BookOrder();
  order.orderId = orderId;
  order.expiresAt = expiresAt;
  return order;
}

const byExpiryThenId = (a: BookOrder, b: BookOrder) => a.expiresAt - b.expiresAt || a.orderId - b.orderId;

describe('ExpiryQueue', () => {
  test('hands out orders by expiry time, then by order id, whatever the order they were added in', () => {
    const queue = new ExpiryQueue();
    const orders = [gtdOrder(5, 20), gtdOrder(3, 20), gtdOrder(9, 10), gtdOrder(1, 30), gtdOrder(4, 20)];
    for (const order of orders) queue.add(order);
    const drained: number[] = [];
    for (let next = queue.peek(); next !== null; next = queue.peek()) {
      drained.push(next.orderId);
      queue.remove(next);
    }
    expect(drained).toEqual([9, 3, 4, 5, 1]);
  });

  test('stays a valid heap, in model order, under random adds and removals', () => {
    const operation = fc.oneof(
      fc.record({ add: fc.constant(true as const), orderId: fc.nat(50), expiresAt: fc.nat(10) }),
      fc.record({ add: fc.constant(false as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 200, size: 'max' }), (operations) => {
        const queue = new ExpiryQueue();
        const model: BookOrder[] = [];
        for (const op of operations) {
          if (op.add) {
            if (model.some((o) => o.orderId === op.orderId)) continue; // ids are unique in a book
            const order = gtdOrder(op.orderId, op.expiresAt);
            queue.add(order);
            model.push(order);
          } else if (model.length > 0) {
            const [order] = model.splice(op.pick % model.length, 1);
            queue.remove(order);
            expect(order.expiryIndex).toBe(-1);
          }
          queue.verifyIntegrity();
          expect(queue.size).toBe(model.length);
          expect(queue.peek()).toBe(model.reduce<BookOrder | null>((first, o) => (first === null || byExpiryThenId(o, first) < 0 ? o : first), null));
        }
      }),
      { numRuns: 100 },
    );
  });
});
