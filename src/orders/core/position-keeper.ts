import type { DomainError } from '../../common/domain-error.js';
import type { TransferRequest } from '../../ledger/core/index.js';
import type { Side } from '../../matching/index.js';
import type { OrderAccounts } from './batch-money.js';
import type { LiveOrder } from './live-order.js';
import type { ReadonlyLiveOrders } from './live-orders.js';

/** An order's open part: its open lots at its limit. */
export interface OpenPart {
  readonly lots: number;
  readonly priceTicks: number;
}

export const NOTHING_OPEN: OpenPart = { lots: 0, priceTicks: 0 };

/**
 * What a product keeps per participant on a book across batches, beside the orders (forwards: net
 * positions and the margin that backs them, market-rules §6). The planner tells it of every change
 * to an order's open part and every trade, as they happen, and asks it what margin each
 * participant must draw or may release afterwards. Pure: it sees only what it is told and the
 * batch's facts; a failed batch throws it away with the rest of the book.
 */
export interface PositionKeeper {
  /** Refuses quantity an order would add to its side (reduce-only, margin call, capacity), or undefined. */
  refuseAdded(participantId: string, side: Side, lots: number): DomainError | undefined;
  /**
   * What the participant's margin would rise by if one of its orders went from `from` to `to`
   * open on `side` (a new order: from nothing open): to be reserved before the engine sees it.
   */
  marginToAdd(participantId: string, side: Side, from: OpenPart, to: OpenPart): bigint;
  /** An order's open part changed (accepted, amended, filled, cancelled, expired) from `before`. */
  openChanged(order: LiveOrder, before: OpenPart): void;
  /** A trade between two orders, at the maker's price, with the book's sequence of the command. */
  traded(buyer: LiveOrder, seller: LiveOrder, priceTicks: number, lots: number, seq: number): void;
  /**
   * The margin the participant must draw from available cash (> 0) or may release to it (< 0)
   * after the changes so far, applied to the keeper's state: the caller moves the money.
   */
  rebalance(participantId: string): bigint;
  /** Runs one of the product's own commands (forwards: the daily mark, expiry, a margin top-up). */
  execute?(command: ProductCommand, book: ProductBookAccess): ProductCommandResult;
  /** What the batch changed, for the product's statements in the commit (opaque to the order path). */
  changes(): unknown;
}

/** A command only one product understands, carried through the gateway as plain data. */
export interface ProductCommand {
  readonly kind: 'product';
  readonly name: string;
  /** The participant it acts for, when it acts for one (its accounts are loaded for the batch). */
  readonly participantId?: string;
  readonly payload: Readonly<Record<string, unknown>>;
}

export interface ProductCommandResult {
  /** What the command answers its caller with (plain data). */
  readonly value: unknown;
}

/** What a product command may do to the book it runs on: see it, cancel orders, move money. */
export interface ProductBookAccess {
  readonly now: number;
  readonly orders: ReadonlyLiveOrders;
  bestBid(): number | undefined;
  bestAsk(): number | undefined;
  readonly referencePriceTicks: number | undefined;
  /** Cancels an open order through the engine (its hold and margin are released as for any cancel). */
  cancel(orderId: number, reason: string): void;
  /** Adds a ledger transfer to the batch, after those made so far. */
  transfer(transfer: TransferRequest): void;
  /** The ledger accounts of a participant with an order or a position on the book. */
  accountsOf(participantId: string): OrderAccounts;
  /** What the participant's available cash can still spend in this batch. */
  spendable(participantId: string): bigint;
  /** Sets aside a participant's available cash for a transfer of the command; false if it is not there. */
  reserve(participantId: string, amount: bigint): boolean;
}
