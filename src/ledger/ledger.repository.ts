import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import {
  type Account,
  type AccountId,
  applyTransfers,
  hasFlag,
  type LedgerView,
  type PendingResolution,
  type Transfer,
  TransferFlags,
  type TransferRequest,
  type TransferResult,
} from './core/index.js';

interface AccountRecord {
  id: string;
  flags: number;
  debits_pending: string;
  debits_posted: string;
  credits_pending: string;
  credits_posted: string;
}

interface TransferRecord {
  id: string;
  debit_account_id: string;
  credit_account_id: string;
  amount: string;
  pending_id: string | null;
  flags: number;
  code: string;
  ref: string | null;
}

export const toAccount = (r: AccountRecord): Account => ({
  id: BigInt(r.id),
  flags: r.flags,
  debitsPending: BigInt(r.debits_pending),
  debitsPosted: BigInt(r.debits_posted),
  creditsPending: BigInt(r.credits_pending),
  creditsPosted: BigInt(r.credits_posted),
});

export const toTransfer = (r: TransferRecord): Transfer => ({
  id: r.id,
  debitAccountId: BigInt(r.debit_account_id),
  creditAccountId: BigInt(r.credit_account_id),
  amount: BigInt(r.amount),
  pendingId: r.pending_id,
  flags: r.flags,
  code: r.code,
  ref: r.ref,
});

const TRANSFER_COLUMNS = 'id, debit_account_id, credit_account_id, amount, pending_id, flags, code, ref';

/**
 * Persists the ledger core's decisions. One call is one batch, inside the caller's transaction:
 *  1. read the pending transfers the batch resolves (immutable rows, no lock needed);
 *  2. lock every account the batch touches, in ascending id order, so concurrent batches queue
 *     instead of deadlocking and nobody can spend the same money twice;
 *  3. under those locks, read which ids already exist and which holds are already resolved;
 *  4. let the pure core decide; write its transfers with one INSERT and its totals with one UPDATE.
 * The database's CHECK constraints and unique indexes repeat the core's rules as a last line.
 */
@Injectable()
export class LedgerRepository {
  async createTransfers(manager: EntityManager, requests: readonly TransferRequest[]): Promise<TransferResult[]> {
    if (requests.length === 0) return [];
    const pendingIds = unique(requests.map((r) => r.pendingId).filter((id): id is string => id !== undefined && id !== ''));
    const pendings = await this.transfersById(manager, pendingIds);

    const accountIds = new Set<AccountId>();
    for (const r of requests) {
      if (r.debitAccountId !== undefined) accountIds.add(r.debitAccountId);
      if (r.creditAccountId !== undefined) accountIds.add(r.creditAccountId);
    }
    for (const p of pendings.values()) accountIds.add(p.debitAccountId).add(p.creditAccountId);
    const accounts = await this.lockAccounts(manager, [...accountIds]);

    const transfers = await this.transfersById(manager, unique([...requests.map((r) => r.id), ...pendingIds]));
    const resolutions = await this.resolutionsOf(manager, pendingIds);
    const view: LedgerView = {
      account: (id) => accounts.get(id),
      transfer: (id) => transfers.get(id),
      resolution: (pendingId) => resolutions.get(pendingId),
    };

    const batch = applyTransfers(view, requests);
    await this.insertTransfers(manager, batch.created);
    await this.updateAccounts(manager, batch.changedAccounts);
    return batch.results;
  }

  async lockAccounts(manager: EntityManager, ids: readonly AccountId[]): Promise<Map<AccountId, Account>> {
    if (ids.length === 0) return new Map();
    const rows: AccountRecord[] = await manager.query(
      `SELECT id, flags, debits_pending, debits_posted, credits_pending, credits_posted
         FROM accounts WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`,
      [ids.map(String)],
    );
    return new Map(rows.map((r) => [BigInt(r.id), toAccount(r)]));
  }

  async transfersById(manager: EntityManager, ids: readonly string[]): Promise<Map<string, Transfer>> {
    if (ids.length === 0) return new Map();
    const rows: TransferRecord[] = await manager.query(`SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE id = ANY($1::text[])`, [ids]);
    return new Map(rows.map((r) => [r.id, toTransfer(r)]));
  }

  private async resolutionsOf(manager: EntityManager, pendingIds: readonly string[]): Promise<Map<string, PendingResolution>> {
    if (pendingIds.length === 0) return new Map();
    const rows: Array<{ pending_id: string; flags: number }> = await manager.query(
      `SELECT pending_id, flags FROM transfers WHERE pending_id = ANY($1::text[])`,
      [pendingIds],
    );
    return new Map(rows.map((r) => [r.pending_id, hasFlag(r.flags, TransferFlags.PostPending) ? 'posted' : 'voided']));
  }

  private async insertTransfers(manager: EntityManager, transfers: readonly Transfer[]): Promise<void> {
    if (transfers.length === 0) return;
    await manager.query(
      `INSERT INTO transfers (${TRANSFER_COLUMNS})
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::int[], $7::text[], $8::text[])`,
      [
        transfers.map((t) => t.id),
        transfers.map((t) => String(t.debitAccountId)),
        transfers.map((t) => String(t.creditAccountId)),
        transfers.map((t) => String(t.amount)),
        transfers.map((t) => t.pendingId),
        transfers.map((t) => t.flags),
        transfers.map((t) => t.code),
        transfers.map((t) => t.ref),
      ],
    );
  }

  private async updateAccounts(manager: EntityManager, accounts: readonly Account[]): Promise<void> {
    if (accounts.length === 0) return;
    await manager.query(
      `UPDATE accounts a
          SET debits_pending = v.dp, debits_posted = v.dpo, credits_pending = v.cp, credits_posted = v.cpo
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS v(id, dp, dpo, cp, cpo)
        WHERE a.id = v.id`,
      [
        accounts.map((a) => String(a.id)),
        accounts.map((a) => String(a.debitsPending)),
        accounts.map((a) => String(a.debitsPosted)),
        accounts.map((a) => String(a.creditsPending)),
        accounts.map((a) => String(a.creditsPosted)),
      ],
    );
  }
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}
