import type { FillRecord } from './core/batch-money.js';
import type { LevelChange } from './core/level-changes.js';
import type { LiveOrder } from './core/live-order.js';

export type { FillRecord } from './core/batch-money.js';
export type { LevelChange } from './core/level-changes.js';
export type { LiveOrder } from './core/live-order.js';

/**
 * The order path's published contract for readers (market data, the stream): what a committed
 * batch changed, published only after its commit, in `seq` order per book, on every API process
 * (through Redis). A subscriber that applies level changes to a snapshot of sequence N sees every
 * later sequence exactly once; a gap means it missed something and must take a new snapshot.
 */
export interface CommittedBatch {
  readonly instrument: string;
  /** The book's sequence after the batch. */
  readonly seq: number;
  /** The book's sequence before the batch. */
  readonly previousSeq: number;
  readonly fills: readonly FillRecord[];
  readonly levels: readonly LevelChange[];
  /** Orders the batch created or changed (their owners' private channels). */
  readonly orders: readonly LiveOrder[];
  readonly committedAt: Date;
}

/** The aggregated book (L2) as of a committed sequence, best levels first. */
export interface BookView {
  readonly seq: number;
  readonly bids: ReadonlyArray<{ priceTicks: number; quantity: number; orderCount: number }>;
  readonly asks: ReadonlyArray<{ priceTicks: number; quantity: number; orderCount: number }>;
  readonly referencePriceTicks: number | undefined;
}

/**
 * Where committed batches go: published by the owner of a book, delivered to every API process's
 * subscribers (its own included) in publication order per book.
 */
export interface BookEvents {
  publish(batch: CommittedBatch): void;
  subscribe(listener: (batch: CommittedBatch) => void): () => void;
}
