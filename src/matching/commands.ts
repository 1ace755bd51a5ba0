import type { OrderType, Side, StpMode, TimeInForce } from './types.js';

// Commands are what the order service journals: replaying them in `seq` order rebuilds the book.
// Every command carries the caller's sequence number (must be the book's lastSequence + 1) and
// the caller's clock (`timestamp`, ms since epoch): the engine never reads a clock of its own.
// The engine copies what it keeps, so a caller may reuse a command object after `execute`.

interface CommandBase {
  readonly seq: number;
  readonly timestamp: number;
}

export interface PlaceCommand extends CommandBase {
  readonly type: 'place';
  /** Assigned by the caller; must be above every order id the book has accepted. */
  readonly orderId: number;
  readonly owner: string;
  readonly side: Side;
  readonly orderType: OrderType;
  /** Limit price; required for limit orders, absent for market orders. */
  readonly priceTicks?: number;
  readonly quantity: number;
  /** Market orders take IOC or FOK only. */
  readonly timeInForce: TimeInForce;
  /** Required for GTD (and later than `timestamp`), absent otherwise. */
  readonly expiresAt?: number;
  /** Limit GTC/GTD only; default false. */
  readonly postOnly?: boolean;
  /** Default `cancel_taker`. */
  readonly stp?: StpMode;
}

/**
 * Changes the price and/or the total quantity of a resting order. `quantity` is the new total
 * (filled part included, as FIX OrderQty), so an amend racing a fill cannot add exposure.
 */
export interface AmendCommand extends CommandBase {
  readonly type: 'amend';
  readonly orderId: number;
  readonly owner: string;
  readonly priceTicks?: number;
  readonly quantity?: number;
}

export interface CancelCommand extends CommandBase {
  readonly type: 'cancel';
  readonly orderId: number;
  readonly owner: string;
}

export interface CancelAllCommand extends CommandBase {
  readonly type: 'cancel_all';
  readonly owner: string;
}

/** Expires every GTD order with `expiresAt <= timestamp`. */
export interface ExpireCommand extends CommandBase {
  readonly type: 'expire';
}

/** Sets the collar's reference price (an index price); the next trade replaces it. */
export interface SetReferencePriceCommand extends CommandBase {
  readonly type: 'set_reference_price';
  readonly priceTicks: number;
}

export type Command =
  | PlaceCommand
  | AmendCommand
  | CancelCommand
  | CancelAllCommand
  | ExpireCommand
  | SetReferencePriceCommand;
