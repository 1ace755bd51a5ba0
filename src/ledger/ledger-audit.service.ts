import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { HandlesJob, type JobContext, type JobHandler } from '../platform/jobs/job-handler.js';
import { MetricsService } from '../platform/observability/metrics.service.js';
import type { AccountKind } from './account.entity.js';
import { type Totals, TransferFlags } from './core/index.js';

export interface KindTotal {
  readonly kind: AccountKind;
  readonly accounts: number;
  readonly balance: bigint;
  readonly pendingDebits: bigint;
  readonly pendingCredits: bigint;
}

export interface StoredTrialBalance {
  readonly byKind: KindTotal[];
  readonly postedSum: bigint;
  readonly pendingSum: bigint;
  readonly balanced: boolean;
}

export interface StoredAuditMismatch {
  readonly accountId: bigint;
  readonly stored: Totals;
  readonly rebuilt: Totals;
}

export interface StoredAudit {
  readonly trialBalance: StoredTrialBalance;
  readonly mismatches: StoredAuditMismatch[];
  readonly sound: boolean;
  readonly checkedAt: Date;
}

/** The verdict of an audit as kept in `ledger_audits`. */
export interface AuditVerdict {
  readonly reason: string;
  readonly sound: boolean;
  readonly postedSum: bigint;
  readonly pendingSum: bigint;
  readonly mismatches: number;
  readonly checkedAt: Date;
}

const { Pending, VoidPending } = TransferFlags;

/**
 * Checks the stored ledger the way the core's `auditLedger` checks a ledger in memory: the trial
 * balance sums to zero, and every account's totals equal a rebuild from the transfers alone. The
 * rebuild runs in SQL (same rules as `rebuildTotals`: a transfer counts as posted unless it is
 * pending or a void; a pending one counts as pending until something resolves it), so it scales
 * with the database, not the process. Overdrafts and double resolutions are refused by CHECK
 * constraints and a unique index, so they cannot be stored at all.
 */
@Injectable()
@HandlesJob('ledger.audit')
export class LedgerAuditService implements JobHandler<'ledger.audit'> {
  private readonly logger = new Logger(LedgerAuditService.name);
  private lastAudit?: StoredAudit;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    metrics: MetricsService,
  ) {
    metrics.gauge('tokex_ledger_balance_micro_usd', 'Sum of account balances by account kind', ['kind'], async (gauge) => {
      for (const k of (await this.trialBalance()).byKind) gauge.set({ kind: k.kind }, Number(k.balance));
    });
    metrics.gauge('tokex_ledger_sound', '1 when the last ledger audit found nothing wrong, 0 otherwise', [], async (gauge) => {
      if (this.lastAudit) gauge.set(this.lastAudit.sound ? 1 : 0);
    });
  }

  async trialBalance(manager: EntityManager = this.dataSource.manager): Promise<StoredTrialBalance> {
    const rows: Array<{ kind: AccountKind; accounts: string; balance: string; pending_debits: string; pending_credits: string }> =
      await manager.query(
        `SELECT kind, count(*) AS accounts,
                coalesce(sum(credits_posted - debits_posted), 0) AS balance,
                coalesce(sum(debits_pending), 0) AS pending_debits,
                coalesce(sum(credits_pending), 0) AS pending_credits
           FROM accounts GROUP BY kind ORDER BY kind`,
      );
    const byKind = rows.map((r) => ({
      kind: r.kind,
      accounts: Number(r.accounts),
      balance: BigInt(r.balance),
      pendingDebits: BigInt(r.pending_debits),
      pendingCredits: BigInt(r.pending_credits),
    }));
    const postedSum = byKind.reduce((sum, k) => sum + k.balance, 0n);
    const pendingSum = byKind.reduce((sum, k) => sum + k.pendingCredits - k.pendingDebits, 0n);
    return { byKind, postedSum, pendingSum, balanced: postedSum === 0n && pendingSum === 0n };
  }

  /** The last audit any process ran, or undefined before the first. */
  async lastVerdict(): Promise<AuditVerdict | undefined> {
    const [row]: Array<{ reason: string; sound: boolean; posted_sum: string; pending_sum: string; mismatches: number; checked_at: Date }> = await this.dataSource.query(
      `SELECT reason, sound, posted_sum, pending_sum, mismatches, checked_at FROM ledger_audits ORDER BY checked_at DESC, id DESC LIMIT 1`,
    );
    if (!row) return undefined;
    return { reason: row.reason, sound: row.sound, postedSum: BigInt(row.posted_sum), pendingSum: BigInt(row.pending_sum), mismatches: row.mismatches, checkedAt: row.checked_at };
  }

  async audit(reason = 'admin'): Promise<StoredAudit> {
    // One snapshot for both queries, so concurrent transfers cannot make a sound ledger look wrong.
    const audit = await this.dataSource.transaction('REPEATABLE READ', async (manager) => {
      const trialBalance = await this.trialBalance(manager);
      const rows: Array<Record<string, string>> = await manager.query(
        `WITH t AS (
           SELECT tr.debit_account_id, tr.credit_account_id, tr.amount,
                  (tr.flags & ${Pending | VoidPending}) = 0 AS posted,
                  (tr.flags & ${Pending}) <> 0
                    AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = tr.id) AS open_pending
             FROM transfers tr
         ), legs AS (
           SELECT debit_account_id AS id,
                  CASE WHEN open_pending THEN amount ELSE 0 END AS dp, CASE WHEN posted THEN amount ELSE 0 END AS dpo,
                  0::bigint AS cp, 0::bigint AS cpo
             FROM t
           UNION ALL
           SELECT credit_account_id, 0, 0,
                  CASE WHEN open_pending THEN amount ELSE 0 END, CASE WHEN posted THEN amount ELSE 0 END
             FROM t
         ), rebuilt AS (
           SELECT id, sum(dp) AS dp, sum(dpo) AS dpo, sum(cp) AS cp, sum(cpo) AS cpo FROM legs GROUP BY id
         )
         SELECT coalesce(a.id, r.id) AS id,
                coalesce(a.debits_pending, 0) AS s_dp, coalesce(a.debits_posted, 0) AS s_dpo,
                coalesce(a.credits_pending, 0) AS s_cp, coalesce(a.credits_posted, 0) AS s_cpo,
                coalesce(r.dp, 0) AS r_dp, coalesce(r.dpo, 0) AS r_dpo, coalesce(r.cp, 0) AS r_cp, coalesce(r.cpo, 0) AS r_cpo
           FROM accounts a FULL JOIN rebuilt r ON r.id = a.id
          WHERE (coalesce(a.debits_pending, 0), coalesce(a.debits_posted, 0), coalesce(a.credits_pending, 0), coalesce(a.credits_posted, 0))
                IS DISTINCT FROM (coalesce(r.dp, 0), coalesce(r.dpo, 0), coalesce(r.cp, 0), coalesce(r.cpo, 0))
          ORDER BY 1`,
      );
      const totals = (r: Record<string, string>, p: 's' | 'r'): Totals => ({
        debitsPending: BigInt(r[`${p}_dp`]),
        debitsPosted: BigInt(r[`${p}_dpo`]),
        creditsPending: BigInt(r[`${p}_cp`]),
        creditsPosted: BigInt(r[`${p}_cpo`]),
      });
      const mismatches = rows.map((r) => ({ accountId: BigInt(r.id), stored: totals(r, 's'), rebuilt: totals(r, 'r') }));
      return { trialBalance, mismatches, sound: trialBalance.balanced && mismatches.length === 0, checkedAt: new Date() };
    });
    this.lastAudit = audit;
    await this.dataSource.query(
      `INSERT INTO ledger_audits (reason, sound, posted_sum, pending_sum, mismatches, checked_at) VALUES ($1, $2, $3, $4, $5, $6)`,
      [reason.slice(0, 200), audit.sound, String(audit.trialBalance.postedSum), String(audit.trialBalance.pendingSum), audit.mismatches.length, audit.checkedAt],
    );
    return audit;
  }

  /** The periodic job: audit, and shout if anything is wrong. */
  async handle(payload: { reason: string }, _context: JobContext): Promise<void> {
    const audit = await this.audit(payload.reason);
    if (audit.sound) {
      this.logger.log({ reason: payload.reason, kinds: audit.trialBalance.byKind.length }, 'ledger audit: sound');
    } else {
      this.logger.error(
        {
          reason: payload.reason,
          postedSum: String(audit.trialBalance.postedSum),
          pendingSum: String(audit.trialBalance.pendingSum),
          mismatches: audit.mismatches.length,
        },
        'ledger audit: NOT SOUND',
      );
    }
  }
}
