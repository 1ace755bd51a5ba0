import type { Command } from '../commands.js';
import type { BookEvent } from '../events.js';
import type { OrderBook } from '../order-book.js';
import type { Side, StpMode, TimeInForce } from '../types.js';

type WithOptionalClock<C> = C extends Command ? Omit<C, 'seq' | 'timestamp'> & { seq?: number; timestamp?: number } : never;

/** A command as a test writes it: the driver supplies the sequence number and, unless given, the time. */
export type DriverCommand = WithOptionalClock<Command>;

export interface OrderOptions {
  owner?: string;
  timeInForce?: TimeInForce;
  expiresAt?: number;
  postOnly?: boolean;
  stp?: StpMode;
}

export interface Placed {
  orderId: number;
  events: BookEvent[];
}

export const START_TIME = 1_700_000_000_000;

/** Copies a book's events, which are only valid until its next command. */
export function copyEvents(events: readonly BookEvent[]): BookEvent[] {
  return events.map((event) => ({ ...event }));
}

/**
 * Drives a book the way the order service will: consecutive sequence numbers, increasing order
 * ids, a clock the test moves. Every call returns a copy of the events.
 */
export class BookDriver {
  now = START_TIME;
  private nextOrderId: number;

  constructor(
    readonly book: OrderBook,
    readonly defaultOwner = 'alice',
  ) {
    this.nextOrderId = book.snapshot().lastOrderId + 1;
  }

  send(command: DriverCommand): BookEvent[] {
    const seq = command.seq ?? this.book.lastSequence + 1;
    const timestamp = command.timestamp ?? this.now;
    return copyEvents(this.book.execute({ ...command, seq, timestamp } as Command));
  }

  buy(priceTicks: number, quantity: number, options: OrderOptions = {}): Placed {
    return this.place('buy', 'limit', priceTicks, quantity, options);
  }

  sell(priceTicks: number, quantity: number, options: OrderOptions = {}): Placed {
    return this.place('sell', 'limit', priceTicks, quantity, options);
  }

  marketBuy(quantity: number, options: OrderOptions = {}): Placed {
    return this.place('buy', 'market', undefined, quantity, { timeInForce: 'IOC', ...options });
  }

  marketSell(quantity: number, options: OrderOptions = {}): Placed {
    return this.place('sell', 'market', undefined, quantity, { timeInForce: 'IOC', ...options });
  }

  amend(orderId: number, change: { priceTicks?: number; quantity?: number }, owner = this.defaultOwner): BookEvent[] {
    return this.send({ type: 'amend', orderId, owner, ...change });
  }

  cancel(orderId: number, owner = this.defaultOwner): BookEvent[] {
    return this.send({ type: 'cancel', orderId, owner });
  }

  cancelAll(owner = this.defaultOwner): BookEvent[] {
    return this.send({ type: 'cancel_all', owner });
  }

  expire(timestamp = this.now): BookEvent[] {
    return this.send({ type: 'expire', timestamp });
  }

  setReferencePrice(priceTicks: number): BookEvent[] {
    return this.send({ type: 'set_reference_price', priceTicks });
  }

  private place(side: Side, orderType: 'limit' | 'market', priceTicks: number | undefined, quantity: number, options: OrderOptions): Placed {
    const orderId = this.nextOrderId++;
    const { owner = this.defaultOwner, timeInForce = options.expiresAt === undefined ? 'GTC' : 'GTD', ...flags } = options;
    const events = this.send({ type: 'place', orderId, owner, side, orderType, priceTicks, quantity, timeInForce, ...flags });
    return { orderId, events };
  }
}

/** One line per event, for readable expectations: `trade #maker/#taker qty@price left makerLeft/takerLeft`. */
export function summarize(events: readonly BookEvent[]): string[] {
  return events.map((event) => {
    switch (event.type) {
      case 'accepted':
        return `accepted #${event.orderId} ${event.side} ${event.quantity}@${event.priceTicks}`;
      case 'rejected':
        return `rejected ${event.code}`;
      case 'trade':
        return `trade #${event.makerOrderId}/#${event.takerOrderId} ${event.quantity}@${event.priceTicks} left ${event.makerRemaining}/${event.takerRemaining}`;
      case 'cancelled':
        return `cancelled #${event.orderId} ${event.remaining} ${event.reason}`;
      case 'expired':
        return `expired #${event.orderId} ${event.remaining}`;
      case 'amended':
        return `amended #${event.orderId} ${event.remaining}@${event.priceTicks} ${event.priorityKept ? 'kept' : 'lost'}`;
    }
  });
}
