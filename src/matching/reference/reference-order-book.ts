import type { AmendCommand, CancelCommand, Command, PlaceCommand } from '../commands.js';
import type { BookEvent, CancelledEvent } from '../events.js';
import type { OrderBook } from '../order-book.js';
import { RejectCode } from '../reject-codes.js';
import { NO_EXPIRY, type OrderFields, toRestingOrder } from '../order-fields.js';
import { assertValidConfig, collarLimit, crosses } from '../rules.js';
import {
  type BookConfig,
  type BookSnapshot,
  type CancelReason,
  DEFAULT_BOOK_CONFIG,
  type DepthLevel,
  type RestingOrder,
  type Side,
  SNAPSHOT_VERSION,
} from '../types.js';
import { orderIdOf, validateCommand } from '../validation.js';

interface Order extends OrderFields {
  priceTicks: number;
  quantity: number;
  remaining: number;
  /** Time priority: lower arrived earlier. */
  arrival: number;
}

/**
 * The obviously correct book: every resting order in one array, and every question answered by
 * filtering and sorting it. O(n log n) per command; it exists to check FastOrderBook against.
 * FOK is literally all-or-nothing: match, and roll back to a snapshot if anything is left.
 */
export class ReferenceOrderBook implements OrderBook {
  private readonly config: BookConfig;
  private sequence = 0;
  private reference: number | undefined;
  private lastOrderId = 0;
  private resting: Order[] = [];
  private arrivals = 0;
  private events: BookEvent[] = [];

  constructor(config: BookConfig = DEFAULT_BOOK_CONFIG) {
    assertValidConfig(config);
    this.config = { ...config };
  }

  static restore(snapshot: BookSnapshot): ReferenceOrderBook {
    const book = new ReferenceOrderBook(snapshot.config);
    book.load(snapshot);
    return book;
  }

  get lastSequence(): number {
    return this.sequence;
  }

  get referencePriceTicks(): number | undefined {
    return this.reference;
  }

  execute(command: Command): readonly BookEvent[] {
    this.events = [];
    if (command.seq !== this.sequence + 1) {
      this.reject(RejectCode.INVALID_SEQUENCE, orderIdOf(command));
      return this.events;
    }
    this.sequence = command.seq;
    const invalid = validateCommand(command);
    if (invalid !== undefined) {
      this.reject(invalid, orderIdOf(command));
      return this.events;
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
        for (const order of this.resting.filter((o) => o.owner === command.owner).sort(byOrderId)) {
          this.cancelOrder(order, 'mass_cancel');
        }
        break;
      case 'expire':
        for (const order of this.resting.filter((o) => isExpired(o, command.timestamp)).sort(byExpiry)) {
          this.expireOrder(order);
        }
        break;
      case 'set_reference_price':
        this.reference = command.priceTicks;
        break;
    }
    return this.events;
  }

  private place(command: PlaceCommand): void {
    const { orderId, side, timeInForce } = command;
    if (orderId <= this.lastOrderId) return this.reject(RejectCode.DUPLICATE_ORDER_ID, orderId);
    let limit: number;
    if (command.orderType === 'market') {
      if (this.reference === undefined) return this.reject(RejectCode.NO_REFERENCE_PRICE, orderId);
      limit = collarLimit(this.reference, this.config.collarBps, side);
    } else {
      limit = command.priceTicks as number;
    }
    if (command.postOnly === true && this.wouldCross(side, limit)) {
      return this.reject(RejectCode.POST_ONLY_WOULD_TAKE, orderId);
    }
    const beforeFok = timeInForce === 'FOK' ? this.snapshot() : undefined;
    this.lastOrderId = orderId;
    const order: Order = {
      orderId,
      owner: command.owner,
      side,
      priceTicks: limit,
      quantity: command.quantity,
      remaining: command.quantity,
      timeInForce,
      expiresAt: command.expiresAt ?? NO_EXPIRY,
      postOnly: command.postOnly ?? false,
      stp: command.stp ?? 'cancel_taker',
      arrival: this.arrivals++,
    };
    this.events.push({ type: 'accepted', orderId, owner: order.owner, side, priceTicks: limit, quantity: order.quantity });
    const live = this.match(order, command.timestamp);
    if (beforeFok !== undefined && order.remaining > 0) {
      this.load(beforeFok);
      this.events = [];
      return this.reject(RejectCode.FOK_NOT_FILLABLE, orderId);
    }
    if (!live || order.remaining === 0) return;
    if (timeInForce === 'GTC' || timeInForce === 'GTD') {
      this.resting.push(order);
    } else if (command.orderType === 'limit') {
      this.events.push(cancelled(order, 'ioc'));
    } else {
      const liquidityLeft = this.resting.some((o) => o.side !== side);
      this.events.push(cancelled(order, liquidityLeft ? 'collar' : 'market_unfilled'));
    }
  }

  private amend(command: AmendCommand): void {
    const order = this.find(command.orderId, command.owner);
    if (order === undefined) return this.reject(RejectCode.UNKNOWN_ORDER, command.orderId);
    if (isExpired(order, command.timestamp)) return this.reject(RejectCode.ORDER_EXPIRED, order.orderId);
    const priceTicks = command.priceTicks ?? order.priceTicks;
    const quantity = command.quantity ?? order.quantity;
    const filled = order.quantity - order.remaining;
    if (quantity <= filled) return this.reject(RejectCode.AMEND_BELOW_FILLED, order.orderId);
    const priceChanged = priceTicks !== order.priceTicks;
    if (order.postOnly && priceChanged && this.wouldCross(order.side, priceTicks)) {
      return this.reject(RejectCode.POST_ONLY_WOULD_TAKE, order.orderId);
    }
    const priorityKept = !priceChanged && quantity <= order.quantity;
    const { priceTicks: previousPriceTicks, remaining: previousRemaining } = order;
    order.priceTicks = priceTicks;
    order.quantity = quantity;
    order.remaining = quantity - filled;
    this.events.push({
      type: 'amended',
      orderId: order.orderId,
      owner: order.owner,
      side: order.side,
      priceTicks,
      quantity,
      remaining: order.remaining,
      previousPriceTicks,
      previousRemaining,
      priorityKept,
    });
    if (priorityKept) return;
    // Losing priority is leaving the book and entering it again, as a taker first.
    this.remove(order);
    order.arrival = this.arrivals++;
    if (this.match(order, command.timestamp) && order.remaining > 0) this.resting.push(order);
  }

  private cancel(command: CancelCommand): void {
    const order = this.find(command.orderId, command.owner);
    if (order === undefined) return this.reject(RejectCode.UNKNOWN_ORDER, command.orderId);
    this.cancelOrder(order, 'user');
  }

  /** Trades `taker` against the opposite side; false when self-trade prevention cancelled it. */
  private match(taker: Order, now: number): boolean {
    for (const maker of this.queue(opposite(taker.side))) {
      if (taker.remaining === 0 || !crosses(taker.side, taker.priceTicks, maker.priceTicks)) break;
      if (isExpired(maker, now)) {
        this.expireOrder(maker);
      } else if (maker.owner === taker.owner) {
        if (taker.stp !== 'cancel_taker') this.cancelOrder(maker, 'stp');
        if (taker.stp !== 'cancel_maker') {
          this.events.push(cancelled(taker, 'stp'));
          return false;
        }
      } else {
        const quantity = Math.min(maker.remaining, taker.remaining);
        maker.remaining -= quantity;
        taker.remaining -= quantity;
        this.reference = maker.priceTicks;
        this.events.push({
          type: 'trade',
          makerOrderId: maker.orderId,
          takerOrderId: taker.orderId,
          makerOwner: maker.owner,
          takerOwner: taker.owner,
          takerSide: taker.side,
          priceTicks: maker.priceTicks,
          quantity,
          makerRemaining: maker.remaining,
          takerRemaining: taker.remaining,
        });
        if (maker.remaining === 0) this.remove(maker);
      }
    }
    return true;
  }

  private cancelOrder(order: Order, reason: CancelReason): void {
    this.remove(order);
    this.events.push(cancelled(order, reason));
  }

  private expireOrder(order: Order): void {
    this.remove(order);
    const { orderId, owner, side, priceTicks, remaining } = order;
    this.events.push({ type: 'expired', orderId, owner, side, priceTicks, remaining });
  }

  private reject(code: RejectCode, orderId: number | undefined): void {
    this.events.push(orderId === undefined ? { type: 'rejected', code } : { type: 'rejected', code, orderId });
  }

  private remove(order: Order): void {
    this.resting = this.resting.filter((o) => o !== order);
  }

  private find(orderId: number, owner: string): Order | undefined {
    return this.resting.find((o) => o.orderId === orderId && o.owner === owner);
  }

  private wouldCross(side: Side, limit: number): boolean {
    return this.resting.some((o) => o.side !== side && crosses(side, limit, o.priceTicks));
  }

  /** One side's orders in priority: best price first, then earliest arrival. */
  private queue(side: Side): Order[] {
    const better = side === 'buy' ? (a: Order, b: Order) => b.priceTicks - a.priceTicks : (a: Order, b: Order) => a.priceTicks - b.priceTicks;
    return this.resting.filter((o) => o.side === side).sort((a, b) => better(a, b) || a.arrival - b.arrival);
  }

  nextExpiry(): number | undefined {
    const earliest = Math.min(...this.resting.map((o) => o.expiresAt));
    return earliest === NO_EXPIRY ? undefined : earliest;
  }

  bestPrice(side: Side): number | undefined {
    return this.queue(side)[0]?.priceTicks;
  }

  collarLimit(side: Side): number | undefined {
    return this.reference === undefined ? undefined : collarLimit(this.reference, this.config.collarBps, side);
  }

  depth(side: Side, maxLevels = Number.POSITIVE_INFINITY): DepthLevel[] {
    const levels: { priceTicks: number; quantity: number; orderCount: number }[] = [];
    for (const order of this.queue(side)) {
      const last = levels[levels.length - 1];
      if (last?.priceTicks === order.priceTicks) {
        last.quantity += order.remaining;
        last.orderCount += 1;
      } else {
        levels.push({ priceTicks: order.priceTicks, quantity: order.remaining, orderCount: 1 });
      }
    }
    return levels.slice(0, maxLevels);
  }

  orders(side: Side): RestingOrder[] {
    return this.queue(side).map(toRestingOrder);
  }

  forEachOrder(side: Side, visit: (order: OrderFields) => void): void {
    for (const order of this.queue(side)) visit(order);
  }

  findOrder(orderId: number): RestingOrder | undefined {
    const order = this.resting.find((o) => o.orderId === orderId);
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

  private load(snapshot: BookSnapshot): void {
    if (snapshot.version !== SNAPSHOT_VERSION) throw new Error(`unsupported snapshot version ${snapshot.version}`);
    this.sequence = snapshot.lastSequence;
    this.lastOrderId = snapshot.lastOrderId;
    this.reference = snapshot.referencePriceTicks;
    this.resting = [...snapshot.bids, ...snapshot.asks].map((o, arrival) => ({ ...o, expiresAt: o.expiresAt ?? NO_EXPIRY, arrival }));
    this.arrivals = this.resting.length;
  }

  verifyIntegrity(): void {
    const ids = new Set(this.resting.map((o) => o.orderId));
    if (ids.size !== this.resting.length) throw new Error('duplicate resting order id');
    for (const o of this.resting) {
      if (!(o.remaining > 0 && o.remaining <= o.quantity)) throw new Error(`order ${o.orderId}: bad remaining`);
      if (o.timeInForce !== 'GTC' && o.timeInForce !== 'GTD') throw new Error(`order ${o.orderId}: ${o.timeInForce} resting`);
      if (o.orderId > this.lastOrderId) throw new Error(`order ${o.orderId}: above lastOrderId`);
    }
    const bid = this.bestPrice('buy');
    const ask = this.bestPrice('sell');
    if (bid !== undefined && ask !== undefined && bid >= ask) throw new Error(`crossed book ${bid} >= ${ask}`);
  }
}

function opposite(side: Side): Side {
  return side === 'buy' ? 'sell' : 'buy';
}

function isExpired(order: Order, now: number): boolean {
  return order.expiresAt <= now;
}

function byOrderId(a: Order, b: Order): number {
  return a.orderId - b.orderId;
}

function byExpiry(a: Order, b: Order): number {
  return a.expiresAt - b.expiresAt || a.orderId - b.orderId;
}

function cancelled(order: Order, reason: CancelReason): CancelledEvent {
  const { orderId, owner, side, priceTicks, remaining } = order;
  return { type: 'cancelled', orderId, owner, side, priceTicks, remaining, reason };
}
