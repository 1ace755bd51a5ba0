import { Injectable } from '@nestjs/common';
import type pg from 'pg';
import type { EntityManager } from 'typeorm';
import { DomainError } from '../common/domain-error.js';
import { sqlStateOf, UNIQUE_VIOLATION } from '../platform/database/pg-errors.js';
import { arrayLiteral } from '../platform/database/sql-literals.js';
import {
  type Account,
  AccountFlags,
  type AccountId,
  hasFlag,
  LedgerState,
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
 * The one order every ledger write locks accounts in, so concurrent batches queue instead of
 * deadlocking: the fee account's shard first, then ascending id. Batches that credit the same
 * shard then queue on it holding nothing else, and take traders' accounts one batch at a time;
 * taken last, they would first take overlapping traders' accounts and wait for the shard holding
 * them (measured slower with one fee account: docs/benchmarks.md, "Closes in batches").
 */
export const ACCOUNT_LOCK_ORDER = `ORDER BY (participant_id IS NULL AND kind = 'fees') DESC, id`;

/**
 * Persists the ledger core's decisions. One call is one batch, inside the caller's transaction,
 * in two round trips (three when the batch resolves holds):
 *  0. (posts and voids only) read the pending transfers they resolve, to know their accounts;
 *  1. lock every account the batch touches (FOR NO KEY UPDATE: the totals change, the key never
 *     does, so foreign-key checks of other inserts are not blocked), in ACCOUNT_LOCK_ORDER, so concurrent batches queue
 *     instead of deadlocking and nobody spends the same money twice; in the same statement, read
 *     which of the batch's ids already exist and which of its holds are already resolved;
 *  2. let the pure core decide, then write its transfers and the accounts' new totals in one
 *     statement.
 * Locked rows are read at their latest committed version, but the existence checks in step 1 see
 * the statement's snapshot, taken before any lock wait: a transfer id or a hold resolution that
 * another transaction committed meanwhile is caught by the primary key and the unique index on
 * `pending_id` instead, which fail this transaction (LedgerRaceError) so it can be retried and
 * then answered from the committed state. The CHECK constraints repeat the overdraft rule.
 */
@Injectable()
export class LedgerRepository {
  async createTransfers(manager: EntityManager, requests: readonly TransferRequest[]): Promise<TransferResult[]> {
    if (requests.length === 0) return [];
    const session = await this.begin(manager, {
      accountIds: requests.flatMap((r) => [r.debitAccountId, r.creditAccountId]).filter((id): id is AccountId => id !== undefined),
      transferIds: requests.map((r) => r.id),
      pendingIds: requests.map((r) => r.pendingId).filter((id): id is string => id !== undefined && id !== ''),
    });
    const { results } = session.apply(requests);
    await this.flush(manager, session);
    return results;
  }

  /**
   * Locks the accounts a unit of work will touch and reads the transfers it names, for a caller
   * that applies several batches in one transaction (the order writer's group commit) and writes
   * them once with `flush`. Accounts of the holds named in `pendingIds` are locked too. Transfer
   * ids made up during the work need no reading: they are new, and the primary key says so if not.
   */
  async begin(
    manager: EntityManager,
    scope: { accountIds: Iterable<AccountId>; transferIds?: readonly string[]; pendingIds?: readonly string[] },
  ): Promise<LedgerState> {
    const pendingIds = unique(scope.pendingIds ?? []);
    const pendings = await this.transfersById(manager, pendingIds);
    const accountIds = new Set<AccountId>(scope.accountIds);
    for (const p of pendings.values()) accountIds.add(p.debitAccountId).add(p.creditAccountId);
    const state = await this.lockAndRead(manager, [...accountIds], unique(scope.transferIds ?? []), pendingIds);
    for (const [id, pending] of pendings) state.transfers.set(id, pending);
    return new LedgerState(state.accounts, state.transfers, state.resolutions);
  }

  /** Writes everything the session applied: its new transfers and the accounts' new totals. */
  async flush(manager: EntityManager, session: LedgerState): Promise<void> {
    try {
      await this.write(manager, session.created, [...session.changed.values()]);
    } catch (error) {
      if (sqlStateOf(error) === UNIQUE_VIOLATION) throw new LedgerRaceError(error as Error);
      throw error;
    }
  }

  /** Step 1: lock the accounts (id order) and read existing transfers and resolutions, in one statement. */
  private async lockAndRead(manager: EntityManager, accountIds: AccountId[], transferIds: string[], pendingIds: string[]) {
    const rows: Array<{ row: 'a' | 't' | 'r' } & AccountRecord & TransferRecord> = await prepared(
      manager,
      'ledger-lock-and-read',
      `WITH locked AS (
         SELECT id, flags, debits_pending, debits_posted, credits_pending, credits_posted
           FROM accounts WHERE id = ANY($1::bigint[]) ${ACCOUNT_LOCK_ORDER} FOR NO KEY UPDATE
       )
       SELECT 'a' AS row, id::text, flags, debits_pending, debits_posted, credits_pending, credits_posted,
              NULL::bigint AS debit_account_id, NULL::bigint AS credit_account_id, NULL::bigint AS amount,
              NULL::text AS pending_id, NULL::text AS code, NULL::text AS ref
         FROM locked
       UNION ALL
       SELECT 't', id, flags, NULL, NULL, NULL, NULL, debit_account_id, credit_account_id, amount, pending_id, code, ref
         FROM transfers WHERE id = ANY($2::text[])
       UNION ALL
       SELECT 'r', id, flags, NULL, NULL, NULL, NULL, NULL, NULL, NULL, pending_id, NULL, NULL
         FROM transfers WHERE pending_id = ANY($3::text[])`,
      [accountIds.map(String), transferIds, pendingIds],
    );
    const accounts = new Map<AccountId, Account>();
    const transfers = new Map<string, Transfer>();
    const resolutions = new Map<string, PendingResolution>();
    for (const r of rows) {
      if (r.row === 'a') accounts.set(BigInt(r.id), toAccount(r));
      else if (r.row === 't') transfers.set(r.id, toTransfer(r));
      else resolutions.set(r.pending_id!, hasFlag(r.flags, TransferFlags.PostPending) ? 'posted' : 'voided');
    }
    return { accounts, transfers, resolutions };
  }

  async transfersById(manager: EntityManager, ids: readonly string[]): Promise<Map<string, Transfer>> {
    if (ids.length === 0) return new Map();
    const rows: TransferRecord[] = await manager.query(`SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE id = ANY($1::text[])`, [ids]);
    return new Map(rows.map((r) => [r.id, toTransfer(r)]));
  }

  /** Step 2: the new transfers and the accounts' new totals, in one statement. */
  private async write(manager: EntityManager, transfers: readonly Transfer[], accounts: readonly Account[]): Promise<void> {
    if (transfers.length === 0) return;
    await prepared(
      manager,
      'ledger-write',
      `WITH inserted AS (
         INSERT INTO transfers (${TRANSFER_COLUMNS})
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::int[], $7::text[], $8::text[])
         RETURNING 1
       ), updated AS (
         UPDATE accounts a
            SET debits_pending = v.dp, debits_posted = v.dpo, credits_pending = v.cp, credits_posted = v.cpo
           FROM unnest($9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[]) AS v(id, dp, dpo, cp, cpo)
          WHERE a.id = v.id
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM inserted) AS inserted, (SELECT count(*) FROM updated) AS updated`,
      [
        transfers.map((t) => t.id),
        transfers.map((t) => String(t.debitAccountId)),
        transfers.map((t) => String(t.creditAccountId)),
        transfers.map((t) => String(t.amount)),
        transfers.map((t) => t.pendingId),
        transfers.map((t) => t.flags),
        transfers.map((t) => t.code),
        transfers.map((t) => t.ref),
        accounts.map((a) => String(a.id)),
        accounts.map((a) => String(a.debitsPending)),
        accounts.map((a) => String(a.debitsPosted)),
        accounts.map((a) => String(a.creditsPending)),
        accounts.map((a) => String(a.creditsPosted)),
      ],
    );
  }
}

/**
 * Posts simple transfers (no holds; linked chains allowed, as the script is all or nothing) as statements for a caller's script that
 * runs in one round trip (the order writer's group commit): lock the accounts in
 * ACCOUNT_LOCK_ORDER, then insert the transfers and add their amounts to the accounts' totals. The core does
 * not run here and nothing is read back, yet the outcome is the core's (`applyTransfers` on the
 * same balances: test/integration/ledger-differential.test.ts holds the two equal): the batch
 * commits if and only if the core would create every one of its transfers, in order, and else
 * nothing of it does.
 *
 * The overdraft rule is applied to each account at the worst point the batch takes it to, not only
 * to its totals after the whole batch: transfers apply in order, so a batch that overdraws an
 * account and then refills it is refused, as by the core. Here, each account's peak (the most it
 * is debited beyond what it was credited so far in the batch, and the reverse) is computed; in the
 * database, under the lock, an account whose flag that peak breaks is written with the peak
 * instead of its batch totals, which fails its CHECK constraint (`accounts_debits_within_credits`
 * or `accounts_credits_within_debits`). Any other account passes its CHECK at its final totals.
 * So every refusal is a database error that fails the whole script: SQLSTATE 23514 (a CHECK
 * violation) for an overdraft at any point of the batch or a transfer with the same account on
 * both sides (`transfers_accounts_differ`), 23505 (the primary key) for a transfer id already
 * used. The caller retries from fresh balances.
 *
 * Not checked here, because the caller guarantees them: that the accounts exist (there is no
 * foreign key; the caller names accounts it read from the table, and accounts are never deleted),
 * ids of at most 160 characters and non-empty codes, and totals within BIGINT (an overflow would
 * fail the script with 22003, not 23514).
 */
export function postTransfersSql(transfers: readonly TransferRequest[]): string[] {
  if (transfers.length === 0) return [];
  // Per account: its debits and credits in the batch, and its peaks, both from its totals before.
  const totals = new Map<AccountId, BatchTotals>();
  const total = (id: AccountId) => totals.get(id) ?? totals.set(id, { debits: 0n, credits: 0n, peakDebits: 0n, peakCredits: 0n }).get(id)!;
  for (const t of transfers) {
    if (t.amount === undefined || t.amount <= 0n || (t.flags ?? 0) & ~TransferFlags.Linked || t.pendingId || t.debitAccountId === undefined || t.creditAccountId === undefined) {
      throw new Error(`transfer ${t.id} is not a simple posted transfer`);
    }
    const debit = total(t.debitAccountId);
    debit.debits += t.amount;
    if (debit.debits - debit.credits > debit.peakDebits) debit.peakDebits = debit.debits - debit.credits;
    const credit = total(t.creditAccountId);
    credit.credits += t.amount;
    if (credit.credits - credit.debits > credit.peakCredits) credit.peakCredits = credit.credits - credit.debits;
  }
  const ids = [...totals.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const column = (f: (t: BatchTotals) => bigint) =>
    arrayLiteral(ids.map((id) => f(totals.get(id)!)), 'bigint');
  // The core's rules, at the account's worst point (AccountFlags; the CHECK constraints say the same).
  const overDebited =
    `(a.flags & ${AccountFlags.DebitsMustNotExceedCredits}) <> 0 AND a.debits_posted + a.debits_pending + v.peak_debits > a.credits_posted`;
  const overCredited =
    `(a.flags & ${AccountFlags.CreditsMustNotExceedDebits}) <> 0 AND a.credits_posted + a.credits_pending + v.peak_credits > a.debits_posted`;
  return [
    `SELECT count(*) FROM (SELECT 1 FROM accounts WHERE id = ANY(${arrayLiteral(ids, 'bigint')}) ${ACCOUNT_LOCK_ORDER} FOR NO KEY UPDATE) AS locked`,
    `WITH inserted AS (
       INSERT INTO transfers (${TRANSFER_COLUMNS})
       SELECT * FROM unnest(${arrayLiteral(transfers.map((t) => t.id), 'text')}, ${arrayLiteral(transfers.map((t) => t.debitAccountId!), 'bigint')},
                            ${arrayLiteral(transfers.map((t) => t.creditAccountId!), 'bigint')}, ${arrayLiteral(transfers.map((t) => t.amount!), 'bigint')},
                            ${arrayLiteral(transfers.map(() => null), 'text')}, ${arrayLiteral(transfers.map((t) => t.flags ?? 0), 'int')},
                            ${arrayLiteral(transfers.map((t) => t.code), 'text')}, ${arrayLiteral(transfers.map((t) => t.ref ?? null), 'text')})
       RETURNING 1
     )
     UPDATE accounts a
        SET debits_posted = a.debits_posted + CASE WHEN ${overDebited} THEN v.peak_debits WHEN ${overCredited} THEN 0 ELSE v.debits END,
            credits_posted = a.credits_posted + CASE WHEN ${overDebited} THEN 0 WHEN ${overCredited} THEN v.peak_credits ELSE v.credits END
       FROM unnest(${arrayLiteral(ids, 'bigint')}, ${column((t) => t.debits)}, ${column((t) => t.credits)},
                   ${column((t) => t.peakDebits)}, ${column((t) => t.peakCredits)}) AS v(id, debits, credits, peak_debits, peak_credits)
      WHERE a.id = v.id`,
  ];
}

interface BatchTotals {
  debits: bigint;
  credits: bigint;
  /** The most the account is debited beyond what it was credited, at any point of the batch (at least 0). */
  peakDebits: bigint;
  /** The most it is credited beyond what it was debited, at any point of the batch (at least 0). */
  peakCredits: bigint;
}

/**
 * Another transaction committed a transfer with one of this batch's ids, or resolved one of its
 * holds, while this one waited for the account locks. Nothing was applied twice (the database
 * refused it); retrying the whole transaction answers from the committed state.
 */
export class LedgerRaceError extends DomainError {
  constructor(cause: Error) {
    super('LEDGER_BUSY', 'a concurrent request changed the same ledger entries; retry', 'unavailable', { cause: cause.message });
    this.name = 'LedgerRaceError';
  }
}

/**
 * The two hot statements run as named prepared statements on the transaction's own connection:
 * PostgreSQL parses and plans them once per connection instead of on every batch, which halves the
 * cost of a one-transfer transaction. (TypeORM's `query` has no named statements; `connect()` on a
 * connected query runner returns its pg client.)
 */
async function prepared<R>(manager: EntityManager, name: string, text: string, values: unknown[]): Promise<R[]> {
  const runner = manager.queryRunner;
  if (!runner) return manager.query(text, values);
  const client = (await runner.connect()) as pg.PoolClient;
  return (await client.query({ name, text, values })).rows;
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}
