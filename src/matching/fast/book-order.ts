import { NO_EXPIRY, type OrderFields } from '../order-fields.js';
import type { Side, StpMode, TimeInForce } from '../types.js';
import type { PriceLevel } from './book-side.js';
import type { OwnerOrders } from './owner-index.js';

/**
 * An order inside FastOrderBook. One object carries every intrusive link the book needs, so
 * finding, unlinking and re-queueing an order never searches or allocates. Objects are pooled:
 * when an order leaves the book its object is cleared and reused for a later order.
 */
export class BookOrder implements OrderFields {
  orderId = 0;
  owner = '';
  side: Side = 'buy';
  priceTicks = 0;
  quantity = 0;
  remaining = 0;
  timeInForce: TimeInForce = 'GTC';
  expiresAt = NO_EXPIRY;
  postOnly = false;
  stp: StpMode = 'cancel_taker';

  /** The price level queue holding the order; null while it matches as a taker. */
  level: PriceLevel | null = null;
  prev: BookOrder | null = null;
  next: BookOrder | null = null;

  /** The owner's orders, in order id order (for mass cancel). */
  ownerOrders: OwnerOrders | null = null;
  ownerPrev: BookOrder | null = null;
  ownerNext: BookOrder | null = null;

  /** Position in the expiry queue; -1 when not queued (every order but a resting GTD one). */
  expiryIndex = -1;

  clear(): void {
    this.owner = '';
    this.level = this.prev = this.next = null;
    this.ownerOrders = this.ownerPrev = this.ownerNext = null;
    this.expiryIndex = -1;
  }
}
