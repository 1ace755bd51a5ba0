import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { formatUsd } from '../common/money.js';
import { decodeCursor, type Page, pageLimit, pageOf, type PageQuery } from '../platform/http/pagination.js';
import {
  AccountFlags,
  type AccountId,
  balanceOf,
  spendableOf,
  transferPhase,
  type TransferRequest,
  type TransferResult,
} from './core/index.js';
import {
  type AccountKind,
  PARTICIPANT_ACCOUNT_KINDS,
  type ParticipantAccountKind,
  SYSTEM_ACCOUNT_KINDS,
  type SystemAccountKind,
} from './account.entity.js';
import { rejectionToError } from './ledger.errors.js';
import { LedgerRaceError, LedgerRepository, toAccount } from './ledger.repository.js';

export type ParticipantAccounts = Readonly<Record<ParticipantAccountKind, AccountId>>;

/** Balances as a participant sees them (micro-USD). */
export interface ParticipantBalances {
  /** Cash that can be spent or withdrawn now. */
  readonly available: bigint;
  /** Cash reserved: for open orders (the held account) and for pending withdrawals (holds on available). */
  readonly held: bigint;
  readonly escrow: bigint;
  readonly margin: bigint;
  readonly bond: bigint;
}

export const formatBalances = (b: ParticipantBalances) => ({
  available: formatUsd(b.available),
  held: formatUsd(b.held),
  escrow: formatUsd(b.escrow),
  margin: formatUsd(b.margin),
  bond: formatUsd(b.bond),
});

interface SystemAccounts {
  /** Each kind's account (shard 0 of the fees). */
  readonly single: Readonly<Record<SystemAccountKind, AccountId>>;
  /** The fee account's shards, by shard number. */
  readonly fees: readonly AccountId[];
}

/** A small, stable hash of a text (FNV-1a, 32 bits): the same key always picks the same shard. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/**
 * The only way money moves. Other modules describe transfers (ids derived from their business
 * keys) and call `transfer` inside their own transaction; this service resolves accounts, applies
 * the core's rules through the repository, and turns rejections into domain errors.
 */
@Injectable()
export class LedgerService {
  /** Account ids never change once created, so they are cached for the life of the process. */
  private readonly participantAccounts = new Map<string, ParticipantAccounts>();
  private systemAccounts?: SystemAccounts;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: LedgerRepository,
  ) {}

  /** Opens a participant's five accounts; none of them can ever be overdrawn. */
  async openParticipantAccounts(manager: EntityManager, participantId: string): Promise<void> {
    await manager.query(
      `INSERT INTO accounts (participant_id, kind, flags)
       SELECT $1, kind, $2 FROM unnest($3::text[]) AS kind
       ON CONFLICT DO NOTHING`,
      [participantId, AccountFlags.DebitsMustNotExceedCredits, PARTICIPANT_ACCOUNT_KINDS],
    );
  }

  async accountsOf(participantId: string, manager: EntityManager = this.dataSource.manager): Promise<ParticipantAccounts> {
    const cached = this.participantAccounts.get(participantId);
    if (cached) return cached;
    const rows: Array<{ id: string; kind: ParticipantAccountKind }> = await manager.query(
      `SELECT id, kind FROM accounts WHERE participant_id = $1`,
      [participantId],
    );
    if (rows.length !== PARTICIPANT_ACCOUNT_KINDS.length) throw new Error(`participant ${participantId} has no ledger accounts`);
    const accounts = Object.fromEntries(rows.map((r) => [r.kind, BigInt(r.id)])) as ParticipantAccounts;
    this.participantAccounts.set(participantId, accounts);
    return accounts;
  }

  /** Accounts of many participants at once (one query for those not cached yet). */
  async accountsOfMany(participantIds: readonly string[]): Promise<Map<string, ParticipantAccounts>> {
    const missing = [...new Set(participantIds)].filter((id) => !this.participantAccounts.has(id));
    if (missing.length > 0) {
      const rows: Array<{ id: string; participant_id: string; kind: ParticipantAccountKind }> = await this.dataSource.query(
        `SELECT id, participant_id, kind FROM accounts WHERE participant_id = ANY($1::uuid[])`,
        [missing],
      );
      const found = new Map<string, Record<string, AccountId>>();
      for (const r of rows) (found.get(r.participant_id) ?? found.set(r.participant_id, {}).get(r.participant_id)!)[r.kind] = BigInt(r.id);
      for (const [id, accounts] of found) {
        if (Object.keys(accounts).length === PARTICIPANT_ACCOUNT_KINDS.length) this.participantAccounts.set(id, accounts as ParticipantAccounts);
      }
    }
    return new Map(participantIds.map((id) => [id, this.participantAccounts.get(id) ?? fail(`participant ${id} has no ledger accounts`)]));
  }

  /** What each account may spend now: posted credits less posted and pending debits (no lock: a pre-read). */
  async spendable(accountIds: readonly AccountId[]): Promise<Map<AccountId, bigint>> {
    if (accountIds.length === 0) return new Map();
    const rows: Array<{ id: string; spendable: string }> = await this.dataSource.query(
      `SELECT id::text, (credits_posted - debits_posted - debits_pending)::text AS spendable FROM accounts WHERE id = ANY($1::bigint[])`,
      [accountIds.map(String)],
    );
    return new Map(rows.map((r) => [BigInt(r.id), BigInt(r.spendable)]));
  }

  /** A system account; for `fees`, shard 0 (credit fees through `feeAccount`). */
  async systemAccount(kind: SystemAccountKind): Promise<AccountId> {
    return (await this.loadSystemAccounts()).single[kind];
  }

  /**
   * The fee account shard that fees keyed by `spread` are credited to (docs/ledger.md, "The fee
   * account's shards"). Every transaction that credits fees locks the account it credits, so with
   * one fee account every book commit and settlement batch queued on that one row; callers spread
   * their credits over the shards instead (a book by its symbol, a settlement worker by process). The
   * exchange's fees are the shards' sum; any shard serves any transfer.
   */
  async feeAccount(spread: string | number): Promise<AccountId> {
    const { fees } = await this.loadSystemAccounts();
    return fees[(typeof spread === 'number' ? spread : hashOf(spread)) % fees.length];
  }

  private async loadSystemAccounts(): Promise<SystemAccounts> {
    if (!this.systemAccounts) {
      const rows: Array<{ id: string; kind: SystemAccountKind; shard: number }> = await this.dataSource.query(
        `SELECT id, kind, shard FROM accounts WHERE participant_id IS NULL ORDER BY kind, shard`,
      );
      const single = Object.fromEntries(rows.filter((r) => r.shard === 0).map((r) => [r.kind, BigInt(r.id)])) as Record<SystemAccountKind, AccountId>;
      for (const k of SYSTEM_ACCOUNT_KINDS) if (single[k] === undefined) throw new Error(`system account ${k} is missing`);
      this.systemAccounts = { single, fees: rows.filter((r) => r.kind === 'fees').map((r) => BigInt(r.id)) };
    }
    return this.systemAccounts;
  }

  /**
   * Runs `work` in a transaction, again (up to three times in all) if a concurrent transaction
   * won a race for the same transfer id or hold: the retry then sees the committed state.
   */
  async inTransaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.dataSource.transaction(work);
      } catch (error) {
        if (!(error instanceof LedgerRaceError) || attempt === 3) throw error;
      }
    }
  }

  /** Applies a batch of transfers in the caller's transaction and returns one result per request. */
  async transfer(manager: EntityManager, requests: readonly TransferRequest[]): Promise<TransferResult[]> {
    return this.repository.createTransfers(manager, requests);
  }

  /** Like `transfer`, but every request must be created or already exist; otherwise it throws. */
  async transferOrThrow(manager: EntityManager, requests: readonly TransferRequest[]): Promise<TransferResult[]> {
    const results = await this.transfer(manager, requests);
    results.forEach((result, i) => {
      if (result.status === 'rejected') throw rejectionToError(result.code, requests[i].id);
    });
    return results;
  }

  async balancesOf(participantId: string, manager: EntityManager = this.dataSource.manager): Promise<ParticipantBalances> {
    const rows = await manager.query(
      `SELECT id, kind, flags, debits_pending, debits_posted, credits_pending, credits_posted
         FROM accounts WHERE participant_id = $1`,
      [participantId],
    );
    const byKind = new Map<AccountKind, ReturnType<typeof toAccount>>(rows.map((r: { kind: AccountKind }) => [r.kind, toAccount(r as never)]));
    const of = (kind: ParticipantAccountKind) => byKind.get(kind) ?? { debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n };
    return {
      available: spendableOf(of('available')),
      held: balanceOf(of('held')) + of('available').debitsPending,
      escrow: balanceOf(of('escrow')),
      margin: balanceOf(of('margin')),
      bond: balanceOf(of('bond')),
    };
  }

  /** Every account with its balance, in id order. */
  async listAccounts(query: PageQuery): Promise<Page<AccountLine>> {
    const limit = pageLimit(query);
    const after = decodeCursor(query.cursor, ['bigint']);
    const rows: Array<Record<string, string | null>> = await this.dataSource.query(
      `SELECT id, participant_id, kind, credits_posted - debits_posted AS balance, debits_pending, credits_pending
         FROM accounts WHERE $1::bigint IS NULL OR id > $1::bigint ORDER BY id LIMIT $2`,
      [after?.[0] ?? null, limit + 1],
    );
    return pageOf(rows, limit, (r) => [r.id!], accountLine);
  }

  /** The transfers with these ids that exist, with both accounts' owners, in the order asked. */
  async transfersByIds(ids: readonly string[]): Promise<TransferRecordLine[]> {
    if (ids.length === 0) return [];
    const rows: Array<{ id: string; code: string; ref: string | null; amount: string; flags: number; created_at: Date; debit_id: string; debit_owner: string | null; debit_kind: string; credit_id: string; credit_owner: string | null; credit_kind: string }> =
      await this.dataSource.query(
        `SELECT t.id, t.code, t.ref, t.amount::text, t.flags, t.created_at,
                da.id::text AS debit_id, da.participant_id AS debit_owner, da.kind AS debit_kind,
                ca.id::text AS credit_id, ca.participant_id AS credit_owner, ca.kind AS credit_kind
           FROM transfers t JOIN accounts da ON da.id = t.debit_account_id JOIN accounts ca ON ca.id = t.credit_account_id
          WHERE t.id = ANY($1::text[])`,
        [ids],
      );
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.flatMap((id) => {
      const r = byId.get(id);
      if (!r) return [];
      return [{
        id: r.id,
        code: r.code,
        ref: r.ref,
        amount: formatUsd(BigInt(r.amount)),
        debit: { accountId: r.debit_id, participantId: r.debit_owner, kind: r.debit_kind },
        credit: { accountId: r.credit_id, participantId: r.credit_owner, kind: r.credit_kind },
        phase: transferPhase(r.flags),
        createdAt: r.created_at.toISOString(),
      }];
    });
  }

  /** A participant's statement: the transfers that touched its accounts, newest first, signed from its side. */
  async statementOf(participantId: string, query: PageQuery): Promise<Page<StatementLine>> {
    const limit = pageLimit(query);
    const before = decodeCursor(query.cursor, ['bigint']);
    const accounts = await this.accountsOf(participantId);
    const kindOf = new Map(Object.entries(accounts).map(([kind, id]) => [String(id), kind]));
    const rows: Array<{ seq: string; id: string; code: string; ref: string | null; debit_account_id: string; credit_account_id: string; amount: string; flags: number; created_at: Date }> =
      await this.dataSource.query(
        `SELECT seq, id, code, ref, debit_account_id, credit_account_id, amount, flags, created_at FROM transfers
          WHERE (debit_account_id = ANY($1::bigint[]) OR credit_account_id = ANY($1::bigint[]))
            AND ($2::bigint IS NULL OR seq < $2::bigint)
          ORDER BY seq DESC LIMIT $3`,
        [[...kindOf.keys()], before?.[0] ?? null, limit + 1],
      );
    return pageOf(rows, limit, (r) => [r.seq], (r) => {
      const debited = kindOf.has(r.debit_account_id);
      return {
        id: r.id,
        code: r.code,
        ref: r.ref,
        account: kindOf.get(debited ? r.debit_account_id : r.credit_account_id)!,
        amount: formatUsd(debited ? -BigInt(r.amount) : BigInt(r.amount)),
        phase: transferPhase(r.flags),
        createdAt: r.created_at.toISOString(),
      };
    });
  }
}

/** One side of a transfer: the account, and whose it is (null: a system account). */
export interface TransferSide {
  accountId: string;
  participantId: string | null;
  kind: string;
}

/** A transfer as an admin reads it by id. */
export interface TransferRecordLine {
  id: string;
  code: string;
  ref: string | null;
  amount: string;
  debit: TransferSide;
  credit: TransferSide;
  phase: 'posted' | 'pending' | 'voided';
  createdAt: string;
}

export interface AccountLine {
  id: string;
  participantId: string | null;
  kind: string;
  balance: string;
  pendingDebits: string;
  pendingCredits: string;
}

export interface StatementLine {
  id: string;
  code: string;
  ref: string | null;
  account: string;
  amount: string;
  phase: 'posted' | 'pending' | 'voided';
  createdAt: string;
}

export const accountLine = (r: Record<string, string | null>): AccountLine => ({
  id: r.id!,
  participantId: r.participant_id,
  kind: r.kind!,
  balance: formatUsd(BigInt(r.balance!)),
  pendingDebits: formatUsd(BigInt(r.debits_pending!)),
  pendingCredits: formatUsd(BigInt(r.credits_pending!)),
});

function fail(message: string): never {
  throw new Error(message);
}
