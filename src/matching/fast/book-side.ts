import type { Side } from '../types.js';
import type { BookOrder } from './book-order.js';

/** Emptied levels kept for reuse; beyond this many they are left to the garbage collector. */
const MAX_SPARE_LEVELS = 4096;
/** How far `append` walks from its hint before it searches from the root instead. */
const MAX_HINT_STEPS = 8;

/**
 * All orders at one price on one side: a FIFO queue (doubly linked through the orders, so any
 * order leaves in O(1)), and at the same time a node of the side's red-black tree and of the
 * side's price-ordered list of levels.
 */
export class PriceLevel {
  priceTicks = 0;
  /** Tree key: the price for asks, minus the price for bids, so the best level has the least key. */
  key = 0;
  totalQuantity = 0;
  orderCount = 0;
  head: BookOrder | null = null;
  tail: BookOrder | null = null;

  parent: PriceLevel | null = null;
  left: PriceLevel | null = null;
  right: PriceLevel | null = null;
  red = false;

  /** Neighbours in price order: matching and depth walk these, never the tree. */
  better: PriceLevel | null = null;
  worse: PriceLevel | null = null;
}

function isRed(level: PriceLevel | null): boolean {
  return level !== null && level.red;
}

/**
 * One side of a book: its price levels in a red-black tree (insert and delete O(log levels)),
 * threaded into a list in price order whose head is the best level (read in O(1)).
 */
export class BookSide {
  /** The best level: lowest ask or highest bid. */
  best: PriceLevel | null = null;
  private root: PriceLevel | null = null;
  private readonly sign: number;
  private readonly spareLevels: PriceLevel[] = [];

  constructor(readonly side: Side) {
    this.sign = side === 'buy' ? -1 : 1;
  }

  /**
   * Queues `order` at the back of the level for its price, creating the level if needed. With a
   * `hint` (a level near the price, as `remove` returns) it first walks the price-ordered list
   * from there: an amend usually moves an order by a level or two, and a short walk beats a
   * descent from the root. Past MAX_HINT_STEPS it descends from the root: O(log levels).
   */
  append(order: BookOrder, hint: PriceLevel | null = null): void {
    const key = this.sign * order.priceTicks;
    if (hint !== null && this.appendNear(order, key, hint)) return;
    let parent: PriceLevel | null = null;
    let node = this.root;
    let leftOfParent = false;
    while (node !== null) {
      if (key === node.key) {
        this.enqueue(node, order);
        return;
      }
      parent = node;
      leftOfParent = key < node.key;
      node = leftOfParent ? node.left : node.right;
    }
    const level = this.newLevel(order.priceTicks, key);
    this.insertLevel(level, parent, leftOfParent);
    this.enqueue(level, order);
  }

  /**
   * Unlinks `order` from its level in O(1); an emptied level leaves the tree. Returns a level
   * still in the book next to the order's old price, to hint a following `append`.
   */
  remove(order: BookOrder): PriceLevel | null {
    const level = order.level as PriceLevel;
    if (order.prev === null) level.head = order.next;
    else order.prev.next = order.next;
    if (order.next === null) level.tail = order.prev;
    else order.next.prev = order.prev;
    order.level = order.prev = order.next = null;
    level.totalQuantity -= order.remaining;
    level.orderCount -= 1;
    if (level.orderCount > 0) return level;
    const neighbour = level.better ?? level.worse;
    this.removeLevel(level);
    return neighbour;
  }

  /** Lowers a resting order's open quantity in place (a fill, or an amend that keeps priority). */
  reduce(order: BookOrder, quantity: number): void {
    order.remaining -= quantity;
    (order.level as PriceLevel).totalQuantity -= quantity;
  }

  private appendNear(order: BookOrder, key: number, hint: PriceLevel): boolean {
    let level = hint;
    for (let steps = 0; steps < MAX_HINT_STEPS; steps++) {
      if (level.key === key) {
        this.enqueue(level, order);
        return true;
      }
      const towardBest = key < level.key;
      const next = towardBest ? level.better : level.worse;
      if (next === null || (towardBest ? next.key < key : next.key > key)) {
        // No level at this price: the new one goes between `level` and `next`. Of two
        // neighbours in key order, the lower has no right child or the upper no left child.
        const lower = towardBest ? next : level;
        const upper = towardBest ? level : next;
        const created = this.newLevel(order.priceTicks, key);
        if (lower !== null && lower.right === null) this.insertLevel(created, lower, false);
        else this.insertLevel(created, upper as PriceLevel, true);
        this.enqueue(created, order);
        return true;
      }
      level = next;
    }
    return false;
  }

  private newLevel(priceTicks: number, key: number): PriceLevel {
    const level = this.spareLevels.pop() ?? new PriceLevel();
    level.priceTicks = priceTicks;
    level.key = key;
    return level;
  }

  private enqueue(level: PriceLevel, order: BookOrder): void {
    order.level = level;
    order.prev = level.tail;
    order.next = null;
    if (level.tail === null) level.head = order;
    else level.tail.next = order;
    level.tail = order;
    level.totalQuantity += order.remaining;
    level.orderCount += 1;
  }

  private insertLevel(level: PriceLevel, parent: PriceLevel | null, leftOfParent: boolean): void {
    level.parent = parent;
    level.left = level.right = null;
    level.red = true;
    // A new tree leaf sits next to its parent in price order: threading it is O(1).
    if (parent === null) {
      this.root = level;
      level.better = level.worse = null;
      this.best = level;
    } else if (leftOfParent) {
      parent.left = level;
      level.worse = parent;
      level.better = parent.better;
      if (parent.better === null) this.best = level;
      else parent.better.worse = level;
      parent.better = level;
    } else {
      parent.right = level;
      level.better = parent;
      level.worse = parent.worse;
      if (parent.worse !== null) parent.worse.better = level;
      parent.worse = level;
    }
    this.fixAfterInsert(level);
  }

  private removeLevel(level: PriceLevel): void {
    if (level.better === null) this.best = level.worse;
    else level.better.worse = level.worse;
    if (level.worse !== null) level.worse.better = level.better;
    this.deleteFromTree(level);
    level.parent = level.left = level.right = level.better = level.worse = null;
    if (this.spareLevels.length < MAX_SPARE_LEVELS) this.spareLevels.push(level);
  }

  // Red-black tree maintenance after Cormen et al., "Introduction to Algorithms", ch. 13,
  // with null leaves instead of a sentinel.

  private fixAfterInsert(node: PriceLevel): void {
    let z = node;
    while (isRed(z.parent)) {
      const parent = z.parent as PriceLevel;
      const grandparent = parent.parent as PriceLevel; // a red node is never the root
      if (parent === grandparent.left) {
        const uncle = grandparent.right;
        if (uncle !== null && uncle.red) {
          parent.red = uncle.red = false;
          grandparent.red = true;
          z = grandparent;
        } else {
          if (z === parent.right) {
            z = parent;
            this.rotateLeft(z);
          }
          (z.parent as PriceLevel).red = false;
          grandparent.red = true;
          this.rotateRight(grandparent);
        }
      } else {
        const uncle = grandparent.left;
        if (uncle !== null && uncle.red) {
          parent.red = uncle.red = false;
          grandparent.red = true;
          z = grandparent;
        } else {
          if (z === parent.left) {
            z = parent;
            this.rotateRight(z);
          }
          (z.parent as PriceLevel).red = false;
          grandparent.red = true;
          this.rotateLeft(grandparent);
        }
      }
    }
    (this.root as PriceLevel).red = false;
  }

  private deleteFromTree(z: PriceLevel): void {
    let x: PriceLevel | null;
    let xParent: PriceLevel | null;
    let removedRed = z.red;
    if (z.left === null) {
      x = z.right;
      xParent = z.parent;
      this.transplant(z, z.right);
    } else if (z.right === null) {
      x = z.left;
      xParent = z.parent;
      this.transplant(z, z.left);
    } else {
      const y = z.worse as PriceLevel; // the in-order successor: leftmost of the right subtree
      removedRed = y.red;
      x = y.right;
      if (y.parent === z) {
        xParent = y;
      } else {
        xParent = y.parent;
        this.transplant(y, y.right);
        y.right = z.right;
        y.right.parent = y;
      }
      this.transplant(z, y);
      y.left = z.left;
      y.left.parent = y;
      y.red = z.red;
    }
    if (!removedRed) this.fixAfterDelete(x, xParent);
  }

  private fixAfterDelete(node: PriceLevel | null, nodeParent: PriceLevel | null): void {
    let x = node;
    let parent = nodeParent;
    // x carries an extra black; a black-height invariant guarantees the sibling w exists.
    while (x !== this.root && !isRed(x)) {
      const p = parent as PriceLevel;
      if (x === p.left) {
        let w = p.right as PriceLevel;
        if (w.red) {
          w.red = false;
          p.red = true;
          this.rotateLeft(p);
          w = p.right as PriceLevel;
        }
        if (!isRed(w.left) && !isRed(w.right)) {
          w.red = true;
          x = p;
          parent = p.parent;
        } else {
          if (!isRed(w.right)) {
            (w.left as PriceLevel).red = false;
            w.red = true;
            this.rotateRight(w);
            w = p.right as PriceLevel;
          }
          w.red = p.red;
          p.red = false;
          (w.right as PriceLevel).red = false;
          this.rotateLeft(p);
          x = this.root;
        }
      } else {
        let w = p.left as PriceLevel;
        if (w.red) {
          w.red = false;
          p.red = true;
          this.rotateRight(p);
          w = p.left as PriceLevel;
        }
        if (!isRed(w.left) && !isRed(w.right)) {
          w.red = true;
          x = p;
          parent = p.parent;
        } else {
          if (!isRed(w.left)) {
            (w.right as PriceLevel).red = false;
            w.red = true;
            this.rotateLeft(w);
            w = p.left as PriceLevel;
          }
          w.red = p.red;
          p.red = false;
          (w.left as PriceLevel).red = false;
          this.rotateRight(p);
          x = this.root;
        }
      }
    }
    if (x !== null) x.red = false;
  }

  private transplant(u: PriceLevel, v: PriceLevel | null): void {
    if (u.parent === null) this.root = v;
    else if (u === u.parent.left) u.parent.left = v;
    else u.parent.right = v;
    if (v !== null) v.parent = u.parent;
  }

  private rotateLeft(x: PriceLevel): void {
    const y = x.right as PriceLevel;
    x.right = y.left;
    if (y.left !== null) y.left.parent = x;
    this.transplant(x, y);
    y.left = x;
    x.parent = y;
  }

  private rotateRight(x: PriceLevel): void {
    const y = x.left as PriceLevel;
    x.left = y.right;
    if (y.right !== null) y.right.parent = x;
    this.transplant(x, y);
    y.right = x;
    x.parent = y;
  }

  /** Throws unless the tree, the price-ordered list and every level queue agree. */
  verifyIntegrity(): void {
    const fail = (message: string): never => {
      throw new Error(`${this.side} side: ${message}`);
    };
    if (isRed(this.root)) fail('red root');
    const inOrder: PriceLevel[] = [];
    const blackHeight = (node: PriceLevel | null, parent: PriceLevel | null): number => {
      if (node === null) return 1;
      if (node.parent !== parent) fail(`level ${node.priceTicks}: wrong parent`);
      if (node.red && (isRed(node.left) || isRed(node.right))) fail(`level ${node.priceTicks}: red with red child`);
      const left = blackHeight(node.left, node);
      inOrder.push(node);
      const right = blackHeight(node.right, node);
      if (left !== right) fail(`level ${node.priceTicks}: unequal black heights`);
      return left + (node.red ? 0 : 1);
    };
    blackHeight(this.root, null);
    let threaded = this.best;
    inOrder.forEach((level, i) => {
      if (threaded !== level) fail(`price-ordered list diverges from the tree at ${level.priceTicks}`);
      if (level.better !== (inOrder[i - 1] ?? null)) fail(`level ${level.priceTicks}: wrong better link`);
      if (i > 0 && level.key <= inOrder[i - 1].key) fail(`levels out of order at ${level.priceTicks}`);
      if (level.key !== this.sign * level.priceTicks) fail(`level ${level.priceTicks}: wrong key`);
      this.verifyQueue(level, fail);
      threaded = level.worse;
    });
    if (threaded !== null) fail('price-ordered list longer than the tree');
  }

  private verifyQueue(level: PriceLevel, fail: (message: string) => never): void {
    let count = 0;
    let total = 0;
    let previous: BookOrder | null = null;
    for (let order = level.head; order !== null; order = order.next) {
      if (order.level !== level || order.prev !== previous) fail(`order ${order.orderId}: broken queue links`);
      if (order.priceTicks !== level.priceTicks || order.side !== this.side) fail(`order ${order.orderId}: wrong level`);
      if (!(order.remaining > 0 && order.remaining <= order.quantity)) fail(`order ${order.orderId}: bad remaining`);
      count += 1;
      total += order.remaining;
      previous = order;
    }
    if (level.tail !== previous) fail(`level ${level.priceTicks}: wrong tail`);
    if (count === 0 || count !== level.orderCount) fail(`level ${level.priceTicks}: orderCount ${level.orderCount}, found ${count}`);
    if (total !== level.totalQuantity) fail(`level ${level.priceTicks}: totalQuantity ${level.totalQuantity}, found ${total}`);
  }
}
