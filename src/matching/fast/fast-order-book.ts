import type { AmendCommand, CancelAllCommand, CancelCommand, Command, ExpireCommand, PlaceCommand } from '../commands.js';
import type { BookEvent } from '../events.js';
import type { OrderBook } from '../order-book.js';
import { NO_EXPIRY, type OrderFields, toRestingOrder } from '../order-fields.js';
import { RejectCode } from '../reject-codes.js';
import { assertValidConfig, collarLimit, crosses } from '../rules.js';
import {
  type BookConfig,
  type BookSnapshot,
  DEFAULT_BOOK_CONFIG,
  type DepthLevel,
  type RestingOrder,
  type Side,
  SNAPSHOT_VERSION,
  type StpMode,
} from '../types.js';
import { orderIdOf, validateCommand } from '../validation.js';
import { BookOrder } from './book-order.js';
import { BookSide } from './book-side.js';
import { EventBuffer } from './event-buffer.js';
import { ExpiryQueue } from './expiry-queue.js';
import { OwnerIndex } from './owner-index.js';

/** A snapshot's position: what `FastOrderBook.restoring` finishes with. */
export type BookPosition = Pick<BookSnapshot, 'lastSequence' | 'lastOrderId' | 'referencePriceTicks'>;

/** A book being restored one resting order at a time (`FastOrderBook.restoring`). */
export interface BookRestoring {
  add(resting: RestingOrder): void;
  finish(position: BookPosition): FastOrderBook;
}

/** Order objects kept for reuse; beyond this many they are left to the garbage collector. */
const MAX_SPARE_ORDERS = 65_536;

/**
 * The production book. Per side, price levels in a red-black tree threaded in price order (best
 * level O(1), new level O(log levels)); per level, a FIFO queue linked through the orders; an id
 * index, an owner index and an expiry heap, all intrusive so that cancel is O(1) (plus O(log n)
 * for a GTD order) and nothing is searched. Order, level and event objects are pooled.
 */
export class FastOrderBook implements OrderBook {
  private readonly config: BookConfig;
  private sequence = 0;
  private reference: number | undefined = undefined;
  private lastOrderId = 0;
  private readonly bids = new BookSide('buy');
  private readonly asks = new BookSide('sell');
  private readonly ordersById = new Map<number, BookOrder>();
  private readonly owners = new OwnerIndex();
  private readonly expiries = new ExpiryQueue();
  private readonly events = new EventBuffer();
  private readonly spareOrders: BookOrder[] = [];

  constructor(config: BookConfig = DEFAULT_BOOK_CONFIG) {
    assertValidConfig(config);
    this.config = { ...config };
  }

  static restore(snapshot: BookSnapshot): FastOrderBook {
    if (snapshot.version !== SNAPSHOT_VERSION) throw new Error(`unsupported snapshot version ${snapshot.version}`);
    const restoring = FastOrderBook.restoring(snapshot.config);
    for (const resting of snapshot.bids) restoring.add(resting);
    for (const resting of snapshot.asks) restoring.add(resting);
    return restoring.finish(snapshot);
  }

  /**
   * `restore` one resting order at a time, each side's orders in price-time priority (the sides
   * may interleave), then the book's position: a loader need not hold a million resting orders
   * before the book takes them (bench:recovery). What `add` is given is copied, not kept.
   */
  static restoring(config: BookConfig): BookRestoring {
    const book = new FastOrderBook(config);
    const restored: BookOrder[] = [];
    return {
      add(resting: RestingOrder): void {
        // Field by field: Object.assign's generic copy was a tenth of a million-order load.
        const order = book.takeOrder();
        order.orderId = resting.orderId;
        order.owner = resting.owner;
        order.side = resting.side;
        order.priceTicks = resting.priceTicks;
        order.quantity = resting.quantity;
        order.remaining = resting.remaining;
        order.timeInForce = resting.timeInForce;
        order.expiresAt = resting.expiresAt ?? NO_EXPIRY;
        order.postOnly = resting.postOnly;
        order.stp = resting.stp;
        book.queue(order);
        restored.push(order);
      },
      finish(position: BookPosition): FastOrderBook {
        book.sequence = position.lastSequence;
        book.lastOrderId = position.lastOrderId;
        book.reference = position.referencePriceTicks;
        for (const order of restored.sort((a, b) => a.orderId - b.orderId)) book.owners.add(order);
        restored.length = 0;
        return book;
      },
    };
  }

  get lastSequence(): number {
    return this.sequence;
  }

  get referencePriceTicks(): number | undefined {
    return this.reference;
  }

  execute(command: Command): readonly BookEvent[] {
    const { events } = this;
    events.begin();
    if (command.seq !== this.sequence + 1) {
      events.addRejected(RejectCode.INVALID_SEQUENCE, orderIdOf(command));
      return events.end();
    }
    this.sequence = command.seq;
    const invalid = validateCommand(command);
    if (invalid !== undefined) {
      events.addRejected(invalid, orderIdOf(command));
      return events.end();
    }
    switch (command.type) {
      case 'place':
        this.place(command);
        break;
      case 'amend':
        this.amend(command);
        break;
      case 'cancel':
        this.cancel(command);
        break;
      case 'cancel_all':
        this.cancelAll(command);
        break;
      case 'expire':
        this.expire(command);
        break;
      case 'set_reference_price':
        this.reference = command.priceTicks;
        break;
    }
    return events.end();
  }

  private place(command: PlaceCommand): void {
    const { orderId, side, owner, quantity, timeInForce, timestamp } = command;
    const { events } = this;
    if (orderId <= this.lastOrderId) return events.addRejected(RejectCode.DUPLICATE_ORDER_ID, orderId);
    let limit: number;
    if (command.orderType === 'market') {
      if (this.reference === undefined) return events.addRejected(RejectCode.NO_REFERENCE_PRICE, orderId);
      limit = collarLimit(this.reference, this.config.collarBps, side);
    } else {
      limit = command.priceTicks as number;
    }
    const opposite = side === 'buy' ? this.asks : this.bids;
    const postOnly = command.postOnly ?? false;
    if (postOnly && opposite.best !== null && crosses(side, limit, opposite.best.priceTicks)) {
      return events.addRejected(RejectCode.POST_ONLY_WOULD_TAKE, orderId);
    }
    const stp = command.stp ?? 'cancel_taker';
    if (timeInForce === 'FOK' && !this.canFill(opposite, side, limit, owner, stp, quantity, timestamp)) {
      return events.addRejected(RejectCode.FOK_NOT_FILLABLE, orderId);
    }
    this.lastOrderId = orderId;
    const order = this.takeOrder();
    order.orderId = orderId;
    order.owner = owner;
    order.side = side;
    order.priceTicks = limit;
    order.quantity = order.remaining = quantity;
    order.timeInForce = timeInForce;
    order.expiresAt = command.expiresAt ?? NO_EXPIRY;
    order.postOnly = postOnly;
    order.stp = stp;
    events.addAccepted(order);
    if (this.match(order, opposite, timestamp) && order.remaining > 0) {
      if (timeInForce === 'GTC' || timeInForce === 'GTD') return this.rest(order);
      const reason = command.orderType === 'limit' ? 'ioc' : opposite.best === null ? 'market_unfilled' : 'collar';
      events.addCancelled(order, reason);
    }
    this.recycle(order);
  }

  private amend(command: AmendCommand): void {
    const { events } = this;
    const order = this.ordersById.get(command.orderId);
    if (order === undefined || order.owner !== command.owner) {
      return events.addRejected(RejectCode.UNKNOWN_ORDER, command.orderId);
    }
    if (order.expiresAt <= command.timestamp) return events.addRejected(RejectCode.ORDER_EXPIRED, order.orderId);
    const priceTicks = command.priceTicks ?? order.priceTicks;
    const quantity = command.quantity ?? order.quantity;
    const filled = order.quantity - order.remaining;
    if (quantity <= filled) return events.addRejected(RejectCode.AMEND_BELOW_FILLED, order.orderId);
    const priceChanged = priceTicks !== order.priceTicks;
    const own = this.sideOf(order.side);
    const opposite = order.side === 'buy' ? this.asks : this.bids;
    if (order.postOnly && priceChanged && opposite.best !== null && crosses(order.side, priceTicks, opposite.best.priceTicks)) {
      return events.addRejected(RejectCode.POST_ONLY_WOULD_TAKE, order.orderId);
    }
    const previousPriceTicks = order.priceTicks;
    const previousRemaining = order.remaining;
    const remaining = quantity - filled;
    if (!priceChanged && quantity <= order.quantity) {
      own.reduce(order, previousRemaining - remaining);
      order.quantity = quantity;
      return events.addAmended(order, previousPriceTicks, previousRemaining, true);
    }
    // Losing priority: leave the level (staying in the id, owner and expiry indexes), match at
    // the new price like an incoming order, and queue at the back of the new level.
    const near = own.remove(order);
    order.priceTicks = priceTicks;
    order.quantity = quantity;
    order.remaining = remaining;
    events.addAmended(order, previousPriceTicks, previousRemaining, false);
    const live = !priceChanged || this.match(order, opposite, command.timestamp);
    // Matching changed only the opposite side, so `near` is still in this side.
    if (live && order.remaining > 0) own.append(order, near);
    else this.forget(order);
  }

  private cancel(command: CancelCommand): void {
    const order = this.ordersById.get(command.orderId);
    if (order === undefined || order.owner !== command.owner) {
      return this.events.addRejected(RejectCode.UNKNOWN_ORDER, command.orderId);
    }
    this.events.addCancelled(order, 'user');
    this.removeResting(order);
  }

  private cancelAll(command: CancelAllCommand): void {
    for (let order = this.owners.first(command.owner); order !== null; ) {
      const next = order.ownerNext;
      this.events.addCancelled(order, 'mass_cancel');
      this.removeResting(order);
      order = next;
    }
  }

  private expire(command: ExpireCommand): void {
    for (let order = this.expiries.peek(); order !== null && order.expiresAt <= command.timestamp; order = this.expiries.peek()) {
      this.events.addExpired(order);
      this.removeResting(order);
    }
  }

  /**
   * Trades `taker` against `opposite` from the best level while prices cross its limit, at each
   * maker's price. Makers past their expiry expire instead of trading. Returns false when
   * self-trade prevention cancelled the taker.
   */
  private match(taker: BookOrder, opposite: BookSide, now: number): boolean {
    const { events } = this;
    const limit = taker.priceTicks;
    const buying = taker.side === 'buy';
    let level = opposite.best;
    while (level !== null && taker.remaining > 0 && (buying ? level.priceTicks <= limit : level.priceTicks >= limit)) {
      const nextLevel = level.worse; // read first: emptying the level recycles it
      let maker = level.head;
      while (maker !== null && taker.remaining > 0) {
        const nextMaker = maker.next;
        if (maker.expiresAt <= now) {
          events.addExpired(maker);
          this.removeResting(maker);
        } else if (maker.owner === taker.owner) {
          if (taker.stp !== 'cancel_taker') {
            events.addCancelled(maker, 'stp');
            this.removeResting(maker);
          }
          if (taker.stp !== 'cancel_maker') {
            events.addCancelled(taker, 'stp');
            return false;
          }
        } else {
          const quantity = maker.remaining < taker.remaining ? maker.remaining : taker.remaining;
          opposite.reduce(maker, quantity);
          taker.remaining -= quantity;
          this.reference = maker.priceTicks;
          events.addTrade(maker, taker, quantity);
          if (maker.remaining === 0) this.removeResting(maker);
        }
        maker = nextMaker;
      }
      level = nextLevel;
    }
    return true;
  }

  /** Whether a FOK order would fill entirely: the walk `match` would take, without changing anything. */
  private canFill(opposite: BookSide, side: Side, limit: number, owner: string, stp: StpMode, quantity: number, now: number): boolean {
    let needed = quantity;
    for (let level = opposite.best; level !== null && crosses(side, limit, level.priceTicks); level = level.worse) {
      for (let maker = level.head; maker !== null; maker = maker.next) {
        if (maker.expiresAt <= now) continue;
        if (maker.owner === owner) {
          if (stp === 'cancel_maker') continue;
          return false;
        }
        needed -= maker.remaining;
        if (needed <= 0) return true;
      }
    }
    return false;
  }

  private rest(order: BookOrder): void {
    this.queue(order);
    this.owners.add(order);
  }

  /**
   * Everything resting takes but the owner index: the level's queue, the id index, the expiry heap.
   * The owner index keeps each owner's orders in id order, so a restore adds them to it last.
   */
  private queue(order: BookOrder): void {
    this.sideOf(order.side).append(order);
    this.ordersById.set(order.orderId, order);
    if (order.expiresAt !== NO_EXPIRY) this.expiries.add(order);
  }

  private removeResting(order: BookOrder): void {
    this.sideOf(order.side).remove(order);
    this.forget(order);
  }

  /** Drops an order that is in no level from the indexes, and recycles it. */
  private forget(order: BookOrder): void {
    this.ordersById.delete(order.orderId);
    this.owners.remove(order);
    if (order.expiryIndex >= 0) this.expiries.remove(order);
    this.recycle(order);
  }

  private takeOrder(): BookOrder {
    return this.spareOrders.pop() ?? new BookOrder();
  }

  private recycle(order: BookOrder): void {
    order.clear();
    if (this.spareOrders.length < MAX_SPARE_ORDERS) this.spareOrders.push(order);
  }

  private sideOf(side: Side): BookSide {
    return side === 'buy' ? this.bids : this.asks;
  }

  nextExpiry(): number | undefined {
    return this.expiries.peek()?.expiresAt;
  }

  bestPrice(side: Side): number | undefined {
    return this.sideOf(side).best?.priceTicks;
  }

  collarLimit(side: Side): number | undefined {
    return this.reference === undefined ? undefined : collarLimit(this.reference, this.config.collarBps, side);
  }

  depth(side: Side, maxLevels = Number.POSITIVE_INFINITY): DepthLevel[] {
    const levels: DepthLevel[] = [];
    for (let level = this.sideOf(side).best; level !== null && levels.length < maxLevels; level = level.worse) {
      levels.push({ priceTicks: level.priceTicks, quantity: level.totalQuantity, orderCount: level.orderCount });
    }
    return levels;
  }

  orders(side: Side): RestingOrder[] {
    const orders: RestingOrder[] = [];
    this.forEachOrder(side, (order) => orders.push(toRestingOrder(order)));
    return orders;
  }

  forEachOrder(side: Side, visit: (order: OrderFields) => void): void {
    for (let level = this.sideOf(side).best; level !== null; level = level.worse) {
      for (let order = level.head; order !== null; order = order.next) visit(order);
    }
  }

  findOrder(orderId: number): RestingOrder | undefined {
    const order = this.ordersById.get(orderId);
    return order === undefined ? undefined : toRestingOrder(order);
  }

  snapshot(): BookSnapshot {
    return {
      version: SNAPSHOT_VERSION,
      config: { ...this.config },
      lastSequence: this.sequence,
      lastOrderId: this.lastOrderId,
      ...(this.reference !== undefined && { referencePriceTicks: this.reference }),
      bids: this.orders('buy'),
      asks: this.orders('sell'),
    };
  }

  verifyIntegrity(): void {
    this.bids.verifyIntegrity();
    this.asks.verifyIntegrity();
    const bid = this.bids.best;
    const ask = this.asks.best;
    if (bid !== null && ask !== null && bid.priceTicks >= ask.priceTicks) {
      throw new Error(`crossed book: bid ${bid.priceTicks} >= ask ${ask.priceTicks}`);
    }
    let gtdCount = 0;
    for (const [orderId, order] of this.ordersById) {
      if (order.orderId !== orderId || order.level === null) throw new Error(`order ${orderId}: indexed but not resting`);
      if (orderId > this.lastOrderId) throw new Error(`order ${orderId}: above lastOrderId ${this.lastOrderId}`);
      if (order.expiresAt !== NO_EXPIRY) gtdCount += 1;
      if ((order.expiresAt !== NO_EXPIRY) !== (order.expiryIndex >= 0)) throw new Error(`order ${orderId}: expiry queue mismatch`);
    }
    const levelOrders = this.orders('buy').length + this.orders('sell').length;
    if (levelOrders !== this.ordersById.size) throw new Error(`levels hold ${levelOrders} orders, id index ${this.ordersById.size}`);
    this.owners.verifyIntegrity(this.ordersById.size);
    this.expiries.verifyIntegrity();
    if (this.expiries.size !== gtdCount) throw new Error(`expiry queue holds ${this.expiries.size}, ${gtdCount} GTD orders rest`);
  }
}
