import type { BookOrder } from './book-order.js';

/** One owner's resting orders, linked through the orders in order id order. */
export class OwnerOrders {
  head: BookOrder | null = null;
  tail: BookOrder | null = null;
  count = 0;
}

/**
 * Resting orders by owner, for mass cancel in O(orders cancelled). Orders are appended when they
 * first rest; ids increase, so each list stays in id order (an amend does not move an order here).
 */
export class OwnerIndex {
  private readonly byOwner = new Map<string, OwnerOrders>();

  /** Must be called in increasing order id. */
  add(order: BookOrder): void {
    let orders = this.byOwner.get(order.owner);
    if (orders === undefined) {
      orders = new OwnerOrders();
      this.byOwner.set(order.owner, orders);
    }
    order.ownerOrders = orders;
    order.ownerPrev = orders.tail;
    order.ownerNext = null;
    if (orders.tail === null) orders.head = order;
    else orders.tail.ownerNext = order;
    orders.tail = order;
    orders.count += 1;
  }

  remove(order: BookOrder): void {
    const orders = order.ownerOrders as OwnerOrders;
    if (order.ownerPrev === null) orders.head = order.ownerNext;
    else order.ownerPrev.ownerNext = order.ownerNext;
    if (order.ownerNext === null) orders.tail = order.ownerPrev;
    else order.ownerNext.ownerPrev = order.ownerPrev;
    order.ownerOrders = order.ownerPrev = order.ownerNext = null;
    orders.count -= 1;
    if (orders.count === 0) this.byOwner.delete(order.owner);
  }

  /** The owner's resting order with the lowest id; follow `ownerNext` for the rest. */
  first(owner: string): BookOrder | null {
    return this.byOwner.get(owner)?.head ?? null;
  }

  /** Throws unless every list is linked both ways, in id order, and the lists hold `orderCount` orders. */
  verifyIntegrity(orderCount: number): void {
    let total = 0;
    for (const [owner, orders] of this.byOwner) {
      let count = 0;
      let previous: BookOrder | null = null;
      for (let order = orders.head; order !== null; order = order.ownerNext) {
        if (order.owner !== owner || order.ownerOrders !== orders || order.ownerPrev !== previous) {
          throw new Error(`owner ${owner}: broken list at order ${order.orderId}`);
        }
        if (previous !== null && previous.orderId >= order.orderId) throw new Error(`owner ${owner}: not in id order`);
        count += 1;
        previous = order;
      }
      if (orders.tail !== previous || count === 0 || count !== orders.count) throw new Error(`owner ${owner}: wrong count or tail`);
      total += count;
    }
    if (total !== orderCount) throw new Error(`owner index holds ${total} orders, book ${orderCount}`);
  }
}
