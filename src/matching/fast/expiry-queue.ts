import type { BookOrder } from './book-order.js';

/**
 * Resting GTD orders in a binary min-heap by (expiresAt, orderId): the next order to expire in
 * O(1), add and remove in O(log n). Each order knows its heap index, so a cancel or fill removes
 * it directly instead of leaving a stale entry behind.
 */
export class ExpiryQueue {
  private readonly heap: BookOrder[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): BookOrder | null {
    return this.heap.length > 0 ? this.heap[0] : null;
  }

  add(order: BookOrder): void {
    order.expiryIndex = this.heap.length;
    this.heap.push(order);
    this.siftUp(order.expiryIndex);
  }

  remove(order: BookOrder): void {
    const index = order.expiryIndex;
    const last = this.heap.pop() as BookOrder;
    order.expiryIndex = -1;
    if (last === order) return;
    this.place(last, index);
    this.siftUp(index);
    this.siftDown(last.expiryIndex);
  }

  private siftUp(start: number): void {
    let index = start;
    const order = this.heap[index];
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = this.heap[parentIndex];
      if (!expiresBefore(order, parent)) break;
      this.place(parent, index);
      index = parentIndex;
    }
    this.place(order, index);
  }

  private siftDown(start: number): void {
    const { heap } = this;
    let index = start;
    const order = heap[index];
    for (;;) {
      const left = 2 * index + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && expiresBefore(heap[right], heap[left]) ? right : left;
      if (!expiresBefore(heap[child], order)) break;
      this.place(heap[child], index);
      index = child;
    }
    this.place(order, index);
  }

  private place(order: BookOrder, index: number): void {
    this.heap[index] = order;
    order.expiryIndex = index;
  }

  /** Throws unless every order is at its recorded index and no child expires before its parent. */
  verifyIntegrity(): void {
    this.heap.forEach((order, index) => {
      if (order.expiryIndex !== index) throw new Error(`expiry queue: order ${order.orderId} at ${index} records ${order.expiryIndex}`);
      if (index > 0 && expiresBefore(order, this.heap[(index - 1) >> 1])) throw new Error('expiry queue: heap order broken');
    });
  }
}

function expiresBefore(a: BookOrder, b: BookOrder): boolean {
  return a.expiresAt < b.expiresAt || (a.expiresAt === b.expiresAt && a.orderId < b.orderId);
}
