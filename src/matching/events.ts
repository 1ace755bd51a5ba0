import type { RejectCode } from './reject-codes.js';
import type { CancelReason, Side } from './types.js';

// What a command did, in the order it happened. Each event carries what a caller needs to move
// money exactly: the price and quantity of every trade, and the open quantity (`remaining`) and
// price of every order that leaves the book other than by a fill.

/** The order entered matching. For a market order `priceTicks` is its collar limit. */
export interface AcceptedEvent {
  readonly type: 'accepted';
  readonly orderId: number;
  readonly owner: string;
  readonly side: Side;
  readonly priceTicks: number;
  readonly quantity: number;
}

export interface RejectedEvent {
  readonly type: 'rejected';
  readonly code: RejectCode;
  /** Present for commands that name an order (place, amend, cancel). */
  readonly orderId?: number;
}

/** A fill, always at the maker's price. `*Remaining` are open quantities after the fill. */
export interface TradeEvent {
  readonly type: 'trade';
  readonly makerOrderId: number;
  readonly takerOrderId: number;
  readonly makerOwner: string;
  readonly takerOwner: string;
  readonly takerSide: Side;
  readonly priceTicks: number;
  readonly quantity: number;
  readonly makerRemaining: number;
  readonly takerRemaining: number;
}

/** The order left the book unfilled; `remaining` is the quantity that will never trade. */
export interface CancelledEvent {
  readonly type: 'cancelled';
  readonly orderId: number;
  readonly owner: string;
  readonly side: Side;
  readonly priceTicks: number;
  readonly remaining: number;
  readonly reason: CancelReason;
}

/** A GTD order reached its expiry time; `remaining` is the quantity that will never trade. */
export interface ExpiredEvent {
  readonly type: 'expired';
  readonly orderId: number;
  readonly owner: string;
  readonly side: Side;
  readonly priceTicks: number;
  readonly remaining: number;
}

/** A resting order changed. Trades may follow when a new price crosses the book. */
export interface AmendedEvent {
  readonly type: 'amended';
  readonly orderId: number;
  readonly owner: string;
  readonly side: Side;
  readonly priceTicks: number;
  /** New total quantity, filled part included. */
  readonly quantity: number;
  readonly remaining: number;
  readonly previousPriceTicks: number;
  readonly previousRemaining: number;
  /** False when the order moved to the back of its (new) price level. */
  readonly priorityKept: boolean;
}

export type BookEvent =
  | AcceptedEvent
  | RejectedEvent
  | TradeEvent
  | CancelledEvent
  | ExpiredEvent
  | AmendedEvent;
