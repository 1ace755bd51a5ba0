import { DomainError } from '../common/domain-error.js';
import { isDeadlockOrSerializationFailure, sqlStateOf, UNIQUE_VIOLATION } from '../platform/database/pg-errors.js';
import type { BookView, CommittedBatch } from './book-events.js';
import type { BookCommand, CommandResult } from './core/book-commands.js';
import type { LiveOrder } from './core/live-order.js';
import type { UncommittedBatch } from './core/uncommitted-batch.js';

// What the book writer's loop passes between planning and committing (see BookWriter).

export interface Queued {
  readonly command: BookCommand;
  readonly resolve: (result: CommandResult) => void;
  readonly reject: (error: unknown) => void;
}

export interface ViewRequest {
  readonly maxLevels?: number;
  readonly resolve: (view: BookView) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A batch planned on the book in memory, with everything its commit writes and its callers and
 * subscribers are told already built: the next batch mutates the same live orders meanwhile.
 */
export interface PlannedBatch {
  readonly items: Queued[];
  readonly results: Array<CommandResult | DomainError>;
  readonly script: string;
  /** What the next batch's facts must add while this one commits; undefined: plan the next one after it. */
  readonly uncommitted?: UncommittedBatch;
  readonly published?: Omit<CommittedBatch, 'committedAt'>;
  /** Views asked for before it was planned, as the book is once it commits. */
  readonly views: Array<readonly [ViewRequest, BookView]>;
  readonly prepareSeconds: number;
}

/** A planning attempt that failed: its commands, and why. */
export interface FailedPlan {
  readonly items: Queued[];
  readonly failure: unknown;
}

export function unavailable(message: string): DomainError {
  return new DomainError('ORDER_BOOK_BUSY', message, 'unavailable', { retryAfterSeconds: 1 });
}

/**
 * Failures that a fresh attempt resolves: a deadlock or serialization failure, or a unique
 * violation (the same clientOrderId or Idempotency-Key committed meanwhile on another instrument
 * or route: the next attempt's pre-read finds it and answers with that order, or a 409).
 */
export function isSerializationProblem(error: unknown): boolean {
  return isDeadlockOrSerializationFailure(error) || sqlStateOf(error) === UNIQUE_VIOLATION;
}

/**
 * The batch's orders as it planned them, copied once (the next batch changes the same live orders
 * before this one is answered and published); `of` gives an order's copy.
 */
export function plannedOrders(orders: readonly LiveOrder[]): { readonly orders: LiveOrder[]; readonly of: (order: LiveOrder) => LiveOrder } {
  const copies = new Map(orders.map((o) => [o.id, { ...o }]));
  return { orders: [...copies.values()], of: (o) => copies.get(o.id) ?? { ...o } };
}

/** A command's result with the planned copies of its orders. */
export function asPlanned(result: CommandResult | DomainError, copyOf: (order: LiveOrder) => LiveOrder): CommandResult | DomainError {
  if (result instanceof DomainError) return result;
  return { ...result, ...(result.order ? { order: copyOf(result.order) } : {}), closed: result.closed.map(copyOf) };
}
