import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditTrail } from '../platform/audit/audit-trail.js';
import { conflict, notFound } from '../common/domain-error.js';
import { formatUsd } from '../common/money.js';
import { decodeCursor, type ListedRow, type Page, pageLimit, pageOf, type PageQuery } from '../platform/http/pagination.js';
import { IdempotencyService, type StoredResponse } from '../platform/idempotency/idempotency.service.js';
import { TransferFlags } from '../ledger/core/index.js';
import { LedgerService } from '../ledger/ledger.service.js';
import type { Principal } from '../platform/http/auth.js';
import type { DepositView, InsuranceFundView, WithdrawalView } from './funding.dto.js';
import type { WithdrawalStatus } from './withdrawal.entity.js';

interface DepositRecord {
  id: string;
  participant_id: string;
  amount: string;
  reference: string | null;
  recorded_by: string;
  created_at: Date;
}

interface WithdrawalRecord {
  id: string;
  participant_id: string;
  amount: string;
  status: WithdrawalStatus;
  created_at: Date;
  resolved_at: Date | null;
  note: string | null;
}


const depositView = (r: DepositRecord): DepositView => ({
  id: r.id,
  participantId: r.participant_id,
  amount: formatUsd(BigInt(r.amount)),
  reference: r.reference,
  recordedBy: r.recorded_by,
  createdAt: r.created_at.toISOString(),
});

const withdrawalView = (r: WithdrawalRecord): WithdrawalView => ({
  id: r.id,
  participantId: r.participant_id,
  amount: formatUsd(BigInt(r.amount)),
  status: r.status,
  createdAt: r.created_at.toISOString(),
  resolvedAt: r.resolved_at?.toISOString() ?? null,
  note: r.note,
});

const WITHDRAWAL_COLUMNS = 'id, participant_id, amount, status, created_at, resolved_at, note';
const WITHDRAWAL_NOT_FOUND = () => notFound('WITHDRAWAL_NOT_FOUND', 'no such withdrawal');

/** Ledger transfer ids of a withdrawal: derived from its id, so every step is idempotent. */
export const withdrawalTransferIds = (id: string) => ({ hold: `withdrawal:${id}:hold`, paid: `withdrawal:${id}:paid`, rejected: `withdrawal:${id}:rejected` });

/**
 * Cash in and out. A deposit is an admin's record of money received: external → available. A
 * withdrawal holds the amount on available (a pending transfer to external) until an admin marks
 * it paid (the hold is posted: the money leaves) or rejected (the hold is voided: it returns).
 */
@Injectable()
export class FundingService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ledger: LedgerService,
    private readonly idempotency: IdempotencyService,
    private readonly audit: AuditTrail,
  ) {}

  async deposit(
    actor: Principal,
    request: { participantId: string; amount: bigint; reference?: string },
    idempotencyKey: string | undefined,
    fingerprint: unknown,
  ): Promise<StoredResponse<DepositView>> {
    return this.ledger.inTransaction((manager) =>
      this.idempotency.run(manager, { participantId: actor.participantId, key: idempotencyKey, fingerprint }, async () => {
        const [participant] = await manager.query(`SELECT id FROM participants WHERE id = $1`, [request.participantId]);
        if (!participant) throw notFound('PARTICIPANT_NOT_FOUND', 'no such participant');
        const [row]: DepositRecord[] = await manager.query(
          `INSERT INTO deposits (participant_id, amount, reference, recorded_by) VALUES ($1, $2, $3, $4)
           RETURNING id, participant_id, amount, reference, recorded_by, created_at`,
          [request.participantId, String(request.amount), request.reference ?? null, actor.participantId],
        );
        const accounts = await this.ledger.accountsOf(request.participantId, manager);
        await this.ledger.transferOrThrow(manager, [
          {
            id: `deposit:${row.id}`,
            debitAccountId: await this.ledger.systemAccount('external'),
            creditAccountId: accounts.available,
            amount: request.amount,
            code: 'deposit',
            ref: row.id,
          },
        ]);
        await this.audit.record(manager, {
          actorId: actor.participantId,
          action: 'deposit.record',
          subjectType: 'deposit',
          subjectId: row.id,
          details: { participantId: request.participantId, amount: formatUsd(request.amount), reference: request.reference ?? null },
        });
        return { statusCode: 201, body: depositView(row) };
      }),
    );
  }

  /** Money the exchange puts into its insurance fund: from outside, like a deposit, audited. */
  async fundInsurance(
    actor: Principal,
    amount: bigint,
    note: { reference?: string; reason?: string },
    idempotencyKey: string | undefined,
    fingerprint: unknown,
  ): Promise<StoredResponse<InsuranceFundView>> {
    return this.ledger.inTransaction((manager) =>
      this.idempotency.run(manager, { participantId: actor.participantId, key: idempotencyKey, fingerprint }, async () => {
        const insurance = await this.ledger.systemAccount('insurance');
        const id = randomUUID();
        await this.ledger.transferOrThrow(manager, [
          { id: `insurance-deposit:${id}`, debitAccountId: await this.ledger.systemAccount('external'), creditAccountId: insurance, amount, code: 'insurance-deposit', ref: id },
        ]);
        await this.audit.record(manager, { actorId: actor.participantId, action: 'insurance.deposit', subjectType: 'account', subjectId: String(insurance), details: { amount: formatUsd(amount), reference: note.reference ?? null, reason: note.reason ?? null } });
        return { statusCode: 201, body: await this.insuranceFund(manager) };
      }),
    );
  }

  async insuranceFund(manager: EntityManager = this.dataSource.manager): Promise<InsuranceFundView> {
    const [row]: Array<{ balance: string }> = await manager.query(`SELECT (credits_posted - debits_posted)::text AS balance FROM accounts WHERE participant_id IS NULL AND kind = 'insurance'`);
    return { balance: formatUsd(BigInt(row.balance)) };
  }

  async listDeposits(query: PageQuery, participantId: string | null): Promise<Page<DepositView>> {
    const limit = pageLimit(query);
    const before = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const rows: Array<DepositRecord & ListedRow> = await this.dataSource.query(
      `SELECT id, participant_id, amount, reference, recorded_by, created_at, created_at::text AS cursor_at FROM deposits
        WHERE ($1::uuid IS NULL OR participant_id = $1)
          AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
        ORDER BY created_at DESC, id DESC LIMIT $4`,
      [participantId, before?.[0] ?? null, before?.[1] ?? null, limit + 1],
    );
    return pageOf(rows, limit, (r) => [r.cursor_at, r.id], depositView);
  }

  async requestWithdrawal(
    actor: Principal,
    amount: bigint,
    idempotencyKey: string | undefined,
    fingerprint: unknown,
  ): Promise<StoredResponse<WithdrawalView>> {
    return this.ledger.inTransaction((manager) =>
      this.idempotency.run(manager, { participantId: actor.participantId, key: idempotencyKey, fingerprint }, async () => {
        const [row]: WithdrawalRecord[] = await manager.query(
          `INSERT INTO withdrawals (participant_id, amount) VALUES ($1, $2) RETURNING ${WITHDRAWAL_COLUMNS}`,
          [actor.participantId, String(amount)],
        );
        const accounts = await this.ledger.accountsOf(actor.participantId, manager);
        // Refused with INSUFFICIENT_FUNDS (422) if available cash is short; the row rolls back with it.
        await this.ledger.transferOrThrow(manager, [
          {
            id: withdrawalTransferIds(row.id).hold,
            debitAccountId: accounts.available,
            creditAccountId: await this.ledger.systemAccount('external'),
            amount,
            flags: TransferFlags.Pending,
            code: 'withdrawal',
            ref: row.id,
          },
        ]);
        return { statusCode: 201, body: withdrawalView(row) };
      }),
    );
  }

  async getWithdrawal(actor: Principal, id: string): Promise<WithdrawalView> {
    const [row]: WithdrawalRecord[] = await this.dataSource.query(
      `SELECT ${WITHDRAWAL_COLUMNS} FROM withdrawals WHERE id = $1 AND participant_id = $2`,
      [id, actor.participantId],
    );
    if (!row) throw WITHDRAWAL_NOT_FOUND();
    return withdrawalView(row);
  }

  async listWithdrawals(query: PageQuery & { status?: WithdrawalStatus }, participantId: string | null): Promise<Page<WithdrawalView>> {
    const limit = pageLimit(query);
    const before = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const rows: Array<WithdrawalRecord & ListedRow> = await this.dataSource.query(
      `SELECT ${WITHDRAWAL_COLUMNS}, created_at::text AS cursor_at FROM withdrawals
        WHERE ($1::uuid IS NULL OR participant_id = $1) AND ($2::text IS NULL OR status = $2)
          AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
        ORDER BY created_at DESC, id DESC LIMIT $5`,
      [participantId, query.status ?? null, before?.[0] ?? null, before?.[1] ?? null, limit + 1],
    );
    return pageOf(rows, limit, (r) => [r.cursor_at, r.id], withdrawalView);
  }

  /**
   * An admin's decision on a pending withdrawal. Asking for the decision already taken returns
   * the withdrawal unchanged; asking for the other one is a conflict.
   */
  async resolveWithdrawal(actor: Principal, id: string, outcome: 'paid' | 'rejected', note: string): Promise<WithdrawalView> {
    return this.ledger.inTransaction(async (manager) => {
      const [row]: WithdrawalRecord[] = await manager.query(`SELECT ${WITHDRAWAL_COLUMNS} FROM withdrawals WHERE id = $1 FOR UPDATE`, [id]);
      if (!row) throw WITHDRAWAL_NOT_FOUND();
      if (row.status === outcome) return withdrawalView(row);
      if (row.status !== 'pending') {
        throw conflict('WITHDRAWAL_ALREADY_RESOLVED', `withdrawal is already ${row.status}`);
      }
      const ids = withdrawalTransferIds(id);
      await this.ledger.transferOrThrow(manager, [
        {
          id: outcome === 'paid' ? ids.paid : ids.rejected,
          pendingId: ids.hold,
          flags: outcome === 'paid' ? TransferFlags.PostPending : TransferFlags.VoidPending,
          code: outcome === 'paid' ? 'withdrawal-paid' : 'withdrawal-rejected',
          ref: id,
        },
      ]);
      const [[updated]]: [WithdrawalRecord[]] = await manager.query(
        `UPDATE withdrawals SET status = $2, resolved_at = now(), resolved_by = $3, note = $4 WHERE id = $1
         RETURNING ${WITHDRAWAL_COLUMNS}`,
        [id, outcome, actor.participantId, note],
      );
      await this.recordResolution(manager, actor, id, outcome, note);
      return withdrawalView(updated);
    });
  }

  private recordResolution(manager: EntityManager, actor: Principal, id: string, outcome: string, note: string) {
    return this.audit.record(manager, { actorId: actor.participantId, action: `withdrawal.${outcome}`, subjectType: 'withdrawal', subjectId: id, details: { note } });
  }
}
