import type { Command } from './commands.js';
import type { BookEvent } from './events.js';
import type { OrderFields } from './order-fields.js';
import type { BookConfig, BookSnapshot, DepthLevel, RestingOrder, Side } from './types.js';

/**
 * A limit order book for one instrument: a deterministic state machine from commands to events.
 * Implemented by FastOrderBook (production) and ReferenceOrderBook (obviously correct, slow);
 * both must emit identical events for identical commands.
 */
export interface OrderBook {
  /**
   * Applies one command and returns what it did. The returned array and its events belong to the
   * book and are valid only until the next `execute` on this book: copy what you keep.
   */
  execute(command: Command): readonly BookEvent[];

  /** Sequence number of the last command applied (0 for a new book). */
  readonly lastSequence: number;
  /** Set by every trade and by `set_reference_price`; anchors the market order collar. */
  readonly referencePriceTicks: number | undefined;

  /** When the earliest resting GTD order expires (ms), or undefined: what the writer's expiry timer waits for. */
  nextExpiry(): number | undefined;
  /** Best bid or ask price, in O(1). */
  bestPrice(side: Side): number | undefined;
  /** The worst price a market order on `side` may fill at now; undefined without a reference price. */
  collarLimit(side: Side): number | undefined;
  /** L2: aggregated levels, best first. */
  depth(side: Side, maxLevels?: number): DepthLevel[];
  /** L3: resting orders, best level first, time priority within a level. */
  orders(side: Side): RestingOrder[];
  /**
   * `orders` without the copies, for a caller that walks a large book (a million resting orders
   * after a restart): `visit` sees each resting order of `side` in the same order, as the book's
   * own, which it must not keep or change.
   */
  forEachOrder(side: Side, visit: (order: OrderFields) => void): void;
  findOrder(orderId: number): RestingOrder | undefined;
  snapshot(): BookSnapshot;
  /** Throws if an internal structure is inconsistent; for tests (exchange-core's validateInternalState). */
  verifyIntegrity(): void;
}

/** Makes books of one implementation: how the shared test suite runs against both. */
export interface OrderBookFactory {
  create(config?: BookConfig): OrderBook;
  restore(snapshot: BookSnapshot): OrderBook;
}
