import {
  type Account,
  AccountFlags,
  type AccountId,
  type AppliedBatch,
  hasFlag,
  isKnownFlagSet,
  LedgerRejection,
  type LedgerView,
  MAX_TOTAL,
  MAX_TRANSFER_ID_LENGTH,
  type PendingResolution,
  type Transfer,
  TransferFlags,
  type TransferRequest,
  type TransferResult,
} from './types.js';

/**
 * Applies a batch of transfer requests to a view of the ledger, in order, and returns what to
 * record. Pure: the view is never mutated; the caller persists `created` and `changedAccounts`
 * (in one database transaction, holding the accounts' locks) or discards them.
 *
 * Rules (TigerBeetle's, where it has one):
 * - ids are the caller's; the same id and body again is `exists` and changes nothing, the same id
 *   with another body is rejected with EXISTS_WITH_DIFFERENT_FIELDS;
 * - a pending transfer reserves its amount; it is posted (in full or in part) or voided at most once;
 * - linked transfers form a chain that applies all or none;
 * - an account flagged DebitsMustNotExceedCredits never has posted plus pending debits above its
 *   posted credits, so cash can never be spent twice or overdrawn.
 */
export function applyTransfers(view: LedgerView, requests: readonly TransferRequest[]): AppliedBatch {
  const batch = new BatchState(view);
  const results: TransferResult[] = new Array(requests.length);

  let start = 0;
  while (start < requests.length) {
    let end = start;
    while (end < requests.length && hasFlag(requests[end].flags ?? 0, TransferFlags.Linked)) end++;
    if (end === requests.length) {
      // The batch ends inside a chain: nothing of the chain applies.
      for (let i = start; i < requests.length; i++) results[i] = rejected(LedgerRejection.LinkedEventFailed);
      results[requests.length - 1] = rejected(LedgerRejection.LinkedEventChainOpen);
      break;
    }
    const mark = batch.mark();
    let failed = -1;
    for (let i = start; i <= end; i++) {
      results[i] = batch.apply(requests[i]);
      if (results[i].status === 'rejected') {
        failed = i;
        break;
      }
    }
    if (failed >= 0 && end > start) {
      batch.rollback(mark);
      for (let i = start; i <= end; i++) if (i !== failed) results[i] = rejected(LedgerRejection.LinkedEventFailed);
    }
    start = end + 1;
  }
  return { results, created: batch.createdTransfers(), changedAccounts: batch.changedAccounts() };
}

function rejected(code: LedgerRejection): TransferResult {
  return { status: 'rejected', code };
}

type Undo = () => void;

/** The view plus what this batch has done so far, with an undo log for linked chains. */
class BatchState {
  private readonly accounts = new Map<AccountId, Account>();
  private readonly transfers = new Map<string, Transfer>();
  private readonly resolutions = new Map<string, PendingResolution>();
  private readonly order: string[] = [];
  private readonly undo: Undo[] = [];

  constructor(private readonly view: LedgerView) {}

  mark(): number {
    return this.undo.length;
  }

  rollback(mark: number): void {
    while (this.undo.length > mark) this.undo.pop()!();
  }

  createdTransfers(): Transfer[] {
    return this.order.map((id) => this.transfers.get(id)!);
  }

  changedAccounts(): Account[] {
    return [...this.accounts.values()];
  }

  apply(request: TransferRequest): TransferResult {
    const flags = request.flags ?? 0;
    if (!request.id) return rejected(LedgerRejection.IdRequired);
    if (request.id.length > MAX_TRANSFER_ID_LENGTH) return rejected(LedgerRejection.IdTooLong);
    if (!isKnownFlagSet(flags)) return rejected(LedgerRejection.InvalidFlags);
    if (!request.code) return rejected(LedgerRejection.CodeRequired);

    const existing = this.transfer(request.id);
    if (existing) {
      return sameBody(request, existing)
        ? { status: 'exists', transfer: existing }
        : rejected(LedgerRejection.ExistsWithDifferentFields);
    }
    return hasFlag(flags, TransferFlags.PostPending) || hasFlag(flags, TransferFlags.VoidPending)
      ? this.resolvePending(request, flags)
      : this.move(request, flags);
  }

  /** A single-phase transfer, or a pending one (a hold). */
  private move(request: TransferRequest, flags: number): TransferResult {
    const { debitAccountId, creditAccountId, amount } = request;
    if (request.pendingId !== undefined) return rejected(LedgerRejection.PendingIdMustBeAbsent);
    if (debitAccountId === undefined || creditAccountId === undefined) return rejected(LedgerRejection.AccountsRequired);
    if (debitAccountId === creditAccountId) return rejected(LedgerRejection.AccountsMustBeDifferent);
    if (amount === undefined || amount <= 0n) return rejected(LedgerRejection.AmountMustBePositive);
    const debit = this.account(debitAccountId);
    if (!debit) return rejected(LedgerRejection.DebitAccountNotFound);
    const credit = this.account(creditAccountId);
    if (!credit) return rejected(LedgerRejection.CreditAccountNotFound);

    const pending = hasFlag(flags, TransferFlags.Pending);
    const debitTotal = debit.debitsPending + debit.debitsPosted + amount;
    const creditTotal = credit.creditsPending + credit.creditsPosted + amount;
    if (debitTotal > MAX_TOTAL || creditTotal > MAX_TOTAL) return rejected(LedgerRejection.Overflow);
    if (hasFlag(debit.flags, AccountFlags.DebitsMustNotExceedCredits) && debitTotal > debit.creditsPosted) {
      return rejected(LedgerRejection.ExceedsCredits);
    }
    if (hasFlag(credit.flags, AccountFlags.CreditsMustNotExceedDebits) && creditTotal > credit.debitsPosted) {
      return rejected(LedgerRejection.ExceedsDebits);
    }

    const d = this.mutable(debit.id);
    const c = this.mutable(credit.id);
    if (pending) {
      d.debitsPending += amount;
      c.creditsPending += amount;
    } else {
      d.debitsPosted += amount;
      c.creditsPosted += amount;
    }
    return this.record({
      id: request.id,
      debitAccountId,
      creditAccountId,
      amount,
      pendingId: null,
      flags,
      code: request.code,
      ref: request.ref ?? null,
    });
  }

  /** Posts (in full or in part) or voids a pending transfer; either happens at most once. */
  private resolvePending(request: TransferRequest, flags: number): TransferResult {
    if (request.pendingId === undefined || request.pendingId === '') return rejected(LedgerRejection.PendingIdRequired);
    const pending = this.transfer(request.pendingId);
    if (!pending) return rejected(LedgerRejection.PendingTransferNotFound);
    if (!hasFlag(pending.flags, TransferFlags.Pending)) return rejected(LedgerRejection.PendingTransferNotPending);
    if (
      (request.debitAccountId !== undefined && request.debitAccountId !== pending.debitAccountId) ||
      (request.creditAccountId !== undefined && request.creditAccountId !== pending.creditAccountId)
    ) {
      return rejected(LedgerRejection.PendingTransferHasDifferentAccounts);
    }
    const resolution = this.resolution(pending.id);
    if (resolution === 'posted') return rejected(LedgerRejection.PendingTransferAlreadyPosted);
    if (resolution === 'voided') return rejected(LedgerRejection.PendingTransferAlreadyVoided);

    const post = hasFlag(flags, TransferFlags.PostPending);
    const amount = request.amount ?? pending.amount;
    if (post && amount <= 0n) return rejected(LedgerRejection.AmountMustBePositive);
    if (post && amount > pending.amount) return rejected(LedgerRejection.ExceedsPendingAmount);
    if (!post && amount !== pending.amount) return rejected(LedgerRejection.VoidAmountMustMatch);

    // Both accounts exist: the pending transfer was applied to them.
    const d = this.mutable(pending.debitAccountId);
    const c = this.mutable(pending.creditAccountId);
    d.debitsPending -= pending.amount;
    c.creditsPending -= pending.amount;
    if (post) {
      d.debitsPosted += amount;
      c.creditsPosted += amount;
    }
    this.resolutions.set(pending.id, post ? 'posted' : 'voided');
    this.undo.push(() => this.resolutions.delete(pending.id));
    return this.record({
      id: request.id,
      debitAccountId: pending.debitAccountId,
      creditAccountId: pending.creditAccountId,
      amount,
      pendingId: pending.id,
      flags,
      code: request.code,
      ref: request.ref ?? null,
    });
  }

  private record(transfer: Transfer): TransferResult {
    this.transfers.set(transfer.id, transfer);
    this.order.push(transfer.id);
    this.undo.push(() => {
      this.transfers.delete(transfer.id);
      this.order.pop();
    });
    return { status: 'created', transfer };
  }

  private transfer(id: string): Transfer | undefined {
    return this.transfers.get(id) ?? this.view.transfer(id);
  }

  private resolution(pendingId: string): PendingResolution | undefined {
    return this.resolutions.get(pendingId) ?? this.view.resolution(pendingId);
  }

  private account(id: AccountId): Account | undefined {
    return this.accounts.get(id) ?? this.view.account(id);
  }

  /** The batch's own copy of an account, with its totals saved for rollback. */
  private mutable(id: AccountId): Account {
    let account = this.accounts.get(id);
    if (!account) {
      account = { ...this.view.account(id)! };
      this.accounts.set(id, account);
    }
    const target = account;
    const { debitsPending, debitsPosted, creditsPending, creditsPosted } = target;
    this.undo.push(() => Object.assign(target, { debitsPending, debitsPosted, creditsPending, creditsPosted }));
    return target;
  }
}

/** Whether a repeated request asks for exactly what was recorded under its id. */
function sameBody(request: TransferRequest, recorded: Transfer): boolean {
  // A post or void may leave out the accounts (they are the pending transfer's); a move may not.
  const resolves = hasFlag(recorded.flags, TransferFlags.PostPending | TransferFlags.VoidPending);
  const sameAccount = (asked: AccountId | undefined, recordedId: AccountId) =>
    asked === recordedId || (resolves && asked === undefined);
  return (
    (request.flags ?? 0) === recorded.flags &&
    (request.pendingId ?? null) === recorded.pendingId &&
    sameAccount(request.debitAccountId, recorded.debitAccountId) &&
    sameAccount(request.creditAccountId, recorded.creditAccountId) &&
    (request.amount === undefined || request.amount === recorded.amount) &&
    request.code === recorded.code &&
    (request.ref ?? null) === recorded.ref
  );
}
