import { applyTransfers } from './apply-transfers.js';
import {
  type Account,
  type AccountId,
  type AppliedBatch,
  type LedgerView,
  type PendingResolution,
  type Transfer,
  TransferFlags,
  type TransferRequest,
  hasFlag,
} from './types.js';

/**
 * The ledger core over plain maps: the model the property tests drive, and the yardstick the
 * PostgreSQL ledger is compared with. Applying a batch is all-or-nothing per chain, like the real one.
 */
export class InMemoryLedger implements LedgerView {
  private readonly accounts = new Map<AccountId, Account>();
  private readonly transfers = new Map<string, Transfer>();
  private readonly resolutions = new Map<string, PendingResolution>();
  private readonly log: Transfer[] = [];

  openAccount(id: AccountId, flags: number): void {
    this.accounts.set(id, { id, flags, debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n });
  }

  account(id: AccountId): Account | undefined {
    return this.accounts.get(id);
  }

  transfer(id: string): Transfer | undefined {
    return this.transfers.get(id);
  }

  resolution(pendingId: string): PendingResolution | undefined {
    return this.resolutions.get(pendingId);
  }

  allAccounts(): Account[] {
    return [...this.accounts.values()];
  }

  allTransfers(): readonly Transfer[] {
    return this.log;
  }

  createTransfers(requests: readonly TransferRequest[]): AppliedBatch {
    const batch = applyTransfers(this, requests);
    for (const account of batch.changedAccounts) this.accounts.set(account.id, account);
    for (const transfer of batch.created) {
      this.transfers.set(transfer.id, transfer);
      this.log.push(transfer);
      if (transfer.pendingId !== null) {
        this.resolutions.set(transfer.pendingId, hasFlag(transfer.flags, TransferFlags.PostPending) ? 'posted' : 'voided');
      }
    }
    return batch;
  }
}
