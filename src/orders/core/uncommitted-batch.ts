import { type AccountId, TransferFlags, type TransferRequest } from '../../ledger/core/index.js';
import { clientOrderKey, type StoredAnswer } from './book-commands.js';
import type { FillRecord } from './batch-money.js';
import type { BatchPlan } from './plan-batch.js';

/**
 * What a planned batch that is still committing changes in the facts the next batch reads. The
 * writer plans batch N+1 while batch N commits (so the writer never waits idle); reads made then
 * may or may not see N, so the next batch's facts are completed with what N will have written.
 */
export interface UncommittedBatch {
  /** The book's sequence once the batch has committed. */
  readonly seq: number;
  /** The batch's net effect on every account's spendable balance it changes. */
  readonly spendableChanges: ReadonlyMap<AccountId, bigint>;
  /** clientOrderIds the batch uses (`clientOrderKey`), with their order ids. */
  readonly clientOrderIds: ReadonlyMap<string, bigint>;
  /** Answers the batch stores under Idempotency-Keys (`clientOrderKey` of participant and key). */
  readonly answers: ReadonlyMap<string, StoredAnswer>;
  /** Its fills, which count against their sellers' capacity (a read of `fills` is completed with them by id). */
  readonly fills: ReadonlyArray<Pick<FillRecord, 'id' | 'sellerId' | 'lots' | 'createdAt'>>;
}

/** An answer a batch stores under an Idempotency-Key. */
export interface KeyedStoredAnswer extends StoredAnswer {
  readonly participantId: string;
  readonly key: string;
}

const TWO_PHASE = TransferFlags.Pending | TransferFlags.PostPending | TransferFlags.VoidPending;

/**
 * Each account's spendable change (credits minus debits) from single-phase transfers. Undefined
 * when a transfer is two-phase: a post or void moves amounts this batch does not name.
 */
export function spendableChanges(transfers: readonly TransferRequest[]): Map<AccountId, bigint> | undefined {
  const changes = new Map<AccountId, bigint>();
  for (const t of transfers) {
    if (((t.flags ?? 0) & TWO_PHASE) !== 0 || t.pendingId !== undefined || t.amount === undefined) return undefined;
    if (t.debitAccountId === undefined || t.creditAccountId === undefined) return undefined;
    changes.set(t.debitAccountId, (changes.get(t.debitAccountId) ?? 0n) - t.amount);
    changes.set(t.creditAccountId, (changes.get(t.creditAccountId) ?? 0n) + t.amount);
  }
  for (const [account, change] of changes) if (change === 0n) changes.delete(account);
  return changes;
}

/**
 * What the next batch must know of this planned one, or undefined when the next batch cannot be
 * planned before this one commits: its money moves are two-phase, or it moves money without a step
 * of the book's sequence (a read could not tell whether it saw them).
 */
export function uncommittedBatch(plan: Pick<BatchPlan, 'transfers' | 'orders' | 'fills' | 'seq' | 'previousSeq'>, stored: readonly KeyedStoredAnswer[]): UncommittedBatch | undefined {
  const changes = spendableChanges(plan.transfers);
  if (changes === undefined || (changes.size > 0 && plan.seq === plan.previousSeq)) return undefined;
  const clientOrderIds = new Map<string, bigint>();
  for (const o of plan.orders) if (o.clientOrderId !== null) clientOrderIds.set(clientOrderKey(o.participantId, o.clientOrderId), BigInt(o.id));
  const answers = new Map<string, StoredAnswer>(
    stored.map((a) => [clientOrderKey(a.participantId, a.key), { requestHash: a.requestHash, statusCode: a.statusCode, body: a.body }]),
  );
  return { seq: plan.seq, spendableChanges: changes, clientOrderIds, answers, fills: plan.fills };
}

/**
 * Spendable balances for the next batch from balances read while `pending` was committing: the
 * read saw the book at `readSeq` (in the same snapshot), so it saw `pending` if and only if the
 * book had reached its sequence; if not, its changes are added here.
 */
export function spendableAhead(read: ReadonlyMap<AccountId, bigint>, readSeq: number | undefined, pending: UncommittedBatch): Map<AccountId, bigint> {
  const spendable = new Map(read);
  if (readSeq === pending.seq) return spendable;
  for (const [account, balance] of spendable) spendable.set(account, balance + (pending.spendableChanges.get(account) ?? 0n));
  return spendable;
}

/** The read facts completed with what `pending` commits: its clientOrderIds and stored answers. */
export function withUncommitted<T>(read: ReadonlyMap<string, T>, uncommitted: ReadonlyMap<string, T>): Map<string, T> {
  return new Map([...read, ...uncommitted]);
}
