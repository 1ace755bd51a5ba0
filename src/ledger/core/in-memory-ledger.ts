import { applyTransfers } from './apply-transfers.js';
import {
  type Account,
  type AccountId,
  type AppliedBatch,
  hasFlag,
  type LedgerView,
  type PendingResolution,
  type Transfer,
  TransferFlags,
  type TransferRequest,
} from './types.js';

/**
 * Accounts and transfers in memory, with every batch applied on top of the previous ones. It is
 * the unit of work of the PostgreSQL ledger (the repository loads it under the accounts' locks,
 * applies one or many batches, then writes `created` and `changed` at once) and, as
 * InMemoryLedger, the model the property tests drive.
 */
export class LedgerState implements LedgerView {
  /** Transfers created since this state was loaded, in order. */
  readonly created: Transfer[] = [];
  /** Accounts changed since this state was loaded, with their latest totals. */
  readonly changed = new Map<AccountId, Account>();

  constructor(
    protected readonly accounts = new Map<AccountId, Account>(),
    protected readonly transfers = new Map<string, Transfer>(),
    protected readonly resolutions = new Map<string, PendingResolution>(),
  ) {}

  account(id: AccountId): Account | undefined {
    return this.accounts.get(id);
  }

  transfer(id: string): Transfer | undefined {
    return this.transfers.get(id);
  }

  resolution(pendingId: string): PendingResolution | undefined {
    return this.resolutions.get(pendingId);
  }

  /** Applies one batch (all or nothing per linked chain) on top of everything applied before. */
  apply(requests: readonly TransferRequest[]): AppliedBatch {
    const batch = applyTransfers(this, requests);
    for (const account of batch.changedAccounts) {
      this.accounts.set(account.id, account);
      this.changed.set(account.id, account);
    }
    for (const transfer of batch.created) {
      this.transfers.set(transfer.id, transfer);
      this.created.push(transfer);
      if (transfer.pendingId !== null) {
        this.resolutions.set(transfer.pendingId, hasFlag(transfer.flags, TransferFlags.PostPending) ? 'posted' : 'voided');
      }
    }
    return batch;
  }
}

/** A whole ledger in memory: the model of the property tests and the yardstick of the PostgreSQL one. */
export class InMemoryLedger extends LedgerState {
  openAccount(id: AccountId, flags: number): void {
    this.accounts.set(id, { id, flags, debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n });
  }

  createTransfers(requests: readonly TransferRequest[]): AppliedBatch {
    return this.apply(requests);
  }

  allAccounts(): Account[] {
    return [...this.accounts.values()];
  }

  allTransfers(): readonly Transfer[] {
    return this.created;
  }
}
