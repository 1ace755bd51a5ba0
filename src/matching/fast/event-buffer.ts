import type {
  AcceptedEvent,
  AmendedEvent,
  BookEvent,
  CancelledEvent,
  ExpiredEvent,
  RejectedEvent,
  TradeEvent,
} from '../events.js';
import type { RejectCode } from '../reject-codes.js';
import type { CancelReason } from '../types.js';
import type { BookOrder } from './book-order.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Event objects of one type, handed out in turn and all taken back at the next command. */
class EventPool<T> {
  private readonly items: T[] = [];
  private used = 0;

  constructor(private readonly create: () => T) {}

  take(): T {
    if (this.used === this.items.length) this.items.push(this.create());
    return this.items[this.used++];
  }

  reset(): void {
    this.used = 0;
  }
}

/**
 * The events of the command being executed, built from reused objects so that once the pools
 * have grown to the largest command seen, executing a command allocates no event. Everything
 * handed out is overwritten by the next command: callers copy what they keep.
 */
export class EventBuffer {
  private readonly list: BookEvent[] = [];
  private count = 0;
  private readonly accepted = new EventPool<Mutable<AcceptedEvent>>(() => ({
    type: 'accepted', orderId: 0, owner: '', side: 'buy', priceTicks: 0, quantity: 0,
  }));
  private readonly rejected = new EventPool<Mutable<RejectedEvent>>(() => ({
    type: 'rejected', code: 'UNKNOWN_COMMAND', orderId: undefined,
  }));
  private readonly trades = new EventPool<Mutable<TradeEvent>>(() => ({
    type: 'trade', makerOrderId: 0, takerOrderId: 0, makerOwner: '', takerOwner: '', takerSide: 'buy',
    priceTicks: 0, quantity: 0, makerRemaining: 0, takerRemaining: 0,
  }));
  private readonly cancelled = new EventPool<Mutable<CancelledEvent>>(() => ({
    type: 'cancelled', orderId: 0, owner: '', side: 'buy', priceTicks: 0, remaining: 0, reason: 'user',
  }));
  private readonly expired = new EventPool<Mutable<ExpiredEvent>>(() => ({
    type: 'expired', orderId: 0, owner: '', side: 'buy', priceTicks: 0, remaining: 0,
  }));
  private readonly amended = new EventPool<Mutable<AmendedEvent>>(() => ({
    type: 'amended', orderId: 0, owner: '', side: 'buy', priceTicks: 0, quantity: 0, remaining: 0,
    previousPriceTicks: 0, previousRemaining: 0, priorityKept: false,
  }));

  begin(): void {
    this.count = 0;
    this.accepted.reset();
    this.rejected.reset();
    this.trades.reset();
    this.cancelled.reset();
    this.expired.reset();
    this.amended.reset();
  }

  /** The command's events; valid until the next `begin`. */
  end(): readonly BookEvent[] {
    if (this.list.length !== this.count) this.list.length = this.count;
    return this.list;
  }

  addAccepted(order: BookOrder): void {
    const event = this.accepted.take();
    event.orderId = order.orderId;
    event.owner = order.owner;
    event.side = order.side;
    event.priceTicks = order.priceTicks;
    event.quantity = order.quantity;
    this.list[this.count++] = event;
  }

  addRejected(code: RejectCode, orderId: number | undefined): void {
    const event = this.rejected.take();
    event.code = code;
    event.orderId = orderId;
    this.list[this.count++] = event;
  }

  addTrade(maker: BookOrder, taker: BookOrder, quantity: number): void {
    const event = this.trades.take();
    event.makerOrderId = maker.orderId;
    event.takerOrderId = taker.orderId;
    event.makerOwner = maker.owner;
    event.takerOwner = taker.owner;
    event.takerSide = taker.side;
    event.priceTicks = maker.priceTicks;
    event.quantity = quantity;
    event.makerRemaining = maker.remaining;
    event.takerRemaining = taker.remaining;
    this.list[this.count++] = event;
  }

  addCancelled(order: BookOrder, reason: CancelReason): void {
    const event = this.cancelled.take();
    event.orderId = order.orderId;
    event.owner = order.owner;
    event.side = order.side;
    event.priceTicks = order.priceTicks;
    event.remaining = order.remaining;
    event.reason = reason;
    this.list[this.count++] = event;
  }

  addExpired(order: BookOrder): void {
    const event = this.expired.take();
    event.orderId = order.orderId;
    event.owner = order.owner;
    event.side = order.side;
    event.priceTicks = order.priceTicks;
    event.remaining = order.remaining;
    this.list[this.count++] = event;
  }

  /** Call after the order's new price and quantities are set. */
  addAmended(order: BookOrder, previousPriceTicks: number, previousRemaining: number, priorityKept: boolean): void {
    const event = this.amended.take();
    event.orderId = order.orderId;
    event.owner = order.owner;
    event.side = order.side;
    event.priceTicks = order.priceTicks;
    event.quantity = order.quantity;
    event.remaining = order.remaining;
    event.previousPriceTicks = previousPriceTicks;
    event.previousRemaining = previousRemaining;
    event.priorityKept = priorityKept;
    this.list[this.count++] = event;
  }
}
