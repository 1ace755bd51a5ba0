// Vocabulary shared by the commands, the events and both order books.
// Prices are integer ticks and quantities integer lots (market-rules §2), held as safe integers.

export type Side = 'buy' | 'sell';

export type OrderType = 'limit' | 'market';

/** GTC rests until cancelled; GTD until `expiresAt`; IOC and FOK never rest. */
export type TimeInForce = 'GTC' | 'IOC' | 'FOK' | 'GTD';

/** Self-trade prevention: what happens when a taker meets a resting order of the same owner. */
export type StpMode = 'cancel_taker' | 'cancel_maker' | 'cancel_both';

export type CancelReason =
  /** `cancel` command. */
  | 'user'
  /** `cancel_all` command. */
  | 'mass_cancel'
  /** Unfilled rest of an IOC limit order. */
  | 'ioc'
  /** Self-trade prevention. */
  | 'stp'
  /** Unfilled rest of a market order: the opposite side ran out of orders. */
  | 'market_unfilled'
  /** Unfilled rest of a market order: the next opposite order is outside the price collar. */
  | 'collar';

export interface BookConfig {
  /** Market orders fill only within ±collarBps of the reference price (1000 = ±10 %). */
  readonly collarBps: number;
}

export const DEFAULT_BOOK_CONFIG: BookConfig = { collarBps: 1000 };

/** A resting order as the L3 view, `findOrder` and snapshots show it. */
export interface RestingOrder {
  readonly orderId: number;
  readonly owner: string;
  readonly side: Side;
  readonly priceTicks: number;
  /** Total quantity of the order, filled part included (changed only by amend). */
  readonly quantity: number;
  /** Open quantity still resting in the book. */
  readonly remaining: number;
  readonly timeInForce: 'GTC' | 'GTD';
  /** Present only for GTD orders. */
  readonly expiresAt?: number;
  readonly postOnly: boolean;
  readonly stp: StpMode;
}

/** One aggregated price level of the L2 view. */
export interface DepthLevel {
  readonly priceTicks: number;
  readonly quantity: number;
  readonly orderCount: number;
}

export const SNAPSHOT_VERSION = 1;

/**
 * Everything needed to rebuild an identical book: JSON-serialisable, numbers and strings only.
 * Orders are listed best level first and, within a level, in time priority.
 */
export interface BookSnapshot {
  readonly version: typeof SNAPSHOT_VERSION;
  readonly config: BookConfig;
  readonly lastSequence: number;
  readonly lastOrderId: number;
  /** Absent until the first trade or `set_reference_price`. */
  readonly referencePriceTicks?: number;
  readonly bids: readonly RestingOrder[];
  readonly asks: readonly RestingOrder[];
}
