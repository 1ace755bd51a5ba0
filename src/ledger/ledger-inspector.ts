import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { notFound } from '../common/domain-error.js';
import { formatUsd } from '../common/money.js';
import type { Page, PageQuery } from '../platform/http/pagination.js';
import { transferFlagNames, transferPhase } from './core/index.js';
import { type AccountLine, accountLine, formatBalances, LedgerService, type StatementLine } from './ledger.service.js';

/**
 * The ledger as admins read it (the admin routes and the ops console's ledger pages): one
 * participant's accounts and statement, and any transfer by id with both its accounts. Money is
 * formatted as everywhere in the API (decimal strings of micro-USD).
 */
@Injectable()
export class LedgerInspector {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ledger: LedgerService,
  ) {}

  /**
   * A participant's ledger for admins: its accounts with their balances, its balances as it sees
   * them, and its statement (newest first, paged). Unknown participant: 404.
   */
  async participantLedger(participantId: string, query: PageQuery): Promise<ParticipantLedger> {
    const rows: Array<Record<string, string>> = await this.dataSource.query(
      `SELECT id::text, participant_id, kind, (credits_posted - debits_posted)::text AS balance, debits_pending::text, credits_pending::text
         FROM accounts WHERE participant_id = $1 ORDER BY id`,
      [participantId],
    );
    if (rows.length === 0) throw notFound('PARTICIPANT_NOT_FOUND', `no participant ${participantId}`);
    return {
      participantId,
      balances: formatBalances(await this.ledger.balancesOf(participantId)),
      accounts: rows.map(accountLine),
      transfers: await this.ledger.statementOf(participantId, query),
    };
  }

  /** One transfer with both accounts (owner and kind), its flags, and the hold it resolves or that resolved it. */
  async transferById(id: string): Promise<TransferDetail> {
    const [t]: Array<Record<string, string | number | Date | null>> = await this.dataSource.query(
      `SELECT t.seq::text, t.id, t.code, t.ref, t.amount::text, t.flags, t.pending_id, t.created_at,
              d.id::text AS debit_id, d.kind AS debit_kind, d.participant_id AS debit_owner,
              c.id::text AS credit_id, c.kind AS credit_kind, c.participant_id AS credit_owner,
              r.id AS resolved_id, r.flags AS resolved_flags, r.amount::text AS resolved_amount, r.created_at AS resolved_at
         FROM transfers t
         JOIN accounts d ON d.id = t.debit_account_id
         JOIN accounts c ON c.id = t.credit_account_id
         LEFT JOIN transfers r ON r.pending_id = t.id
        WHERE t.id = $1`,
      [id],
    );
    if (!t) throw notFound('TRANSFER_NOT_FOUND', `no transfer ${id}`);
    const flags = t.flags as number;
    return {
      id: t.id as string,
      seq: t.seq as string,
      code: t.code as string,
      ref: t.ref as string | null,
      amount: formatUsd(BigInt(t.amount as string)),
      flags: transferFlagNames(flags),
      phase: transferPhase(flags),
      debit: { id: t.debit_id as string, kind: t.debit_kind as string, participantId: t.debit_owner as string | null },
      credit: { id: t.credit_id as string, kind: t.credit_kind as string, participantId: t.credit_owner as string | null },
      pendingId: t.pending_id as string | null,
      resolvedBy:
        t.resolved_id === null
          ? null
          : {
              id: t.resolved_id as string,
              phase: transferPhase(t.resolved_flags as number),
              amount: formatUsd(BigInt(t.resolved_amount as string)),
              createdAt: (t.resolved_at as Date).toISOString(),
            },
      createdAt: (t.created_at as Date).toISOString(),
    };
  }
}

export interface AccountRef {
  id: string;
  kind: string;
  /** Null for the exchange's own accounts (fees, external, insurance, clearing). */
  participantId: string | null;
}

export interface TransferDetail {
  id: string;
  seq: string;
  code: string;
  ref: string | null;
  amount: string;
  flags: string[];
  phase: 'posted' | 'pending' | 'voided';
  debit: AccountRef;
  credit: AccountRef;
  /** The hold this transfer posts or voids. */
  pendingId: string | null;
  /** For a hold: the transfer that posted or voided it, if any. */
  resolvedBy: { id: string; phase: 'posted' | 'pending' | 'voided'; amount: string; createdAt: string } | null;
  createdAt: string;
}

export interface ParticipantLedger {
  participantId: string;
  balances: ReturnType<typeof formatBalances>;
  accounts: AccountLine[];
  transfers: Page<StatementLine>;
}
