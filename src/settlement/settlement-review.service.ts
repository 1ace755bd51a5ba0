import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { conflict, invalid, notFound } from '../common/domain-error.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { MarketsService } from '../markets/markets.service.js';
import { VerifiedUsageRepository } from '../metering/verified-usage.repository.js';
import { ParticipantsService } from '../participants/participants.service.js';
import { AuditTrail } from '../platform/audit/audit-trail.js';
import type { Principal } from '../platform/http/auth.js';
import { decodeCursor, type Page, pageLimit, pageOf } from '../platform/http/pagination.js';
import { type DeliveryRecordRow, deliveryView, SETTLEMENT_COLUMNS, type SettlementRecordRow, settlementView } from './review-views.js';
import { SettlementService } from './settlement.service.js';
import type { AdminSettlementQuery, SettlementDetail, SettlementQuery, SettlementView } from './settlements.dto.js';

const NOT_FOUND = (id: string) => notFound('SETTLEMENT_NOT_FOUND', `no settlement with id ${id}`);

/** Filters of a settlement list: the API's query, with the admin's extras. */
type SettlementFilter = SettlementQuery & Partial<Pick<AdminSettlementQuery, 'participantId' | 'from' | 'to'>>;

/**
 * Settlement steps as participants and admins review them: lists, one step with its delivery, the
 * usage it paid and its ledger transfers, and an admin's retry of a failed step (which runs the
 * worker's own path for that delivery: SettlementService.retry).
 */
@Injectable()
export class SettlementReview {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly settlement: SettlementService,
    private readonly ledger: LedgerService,
    private readonly markets: MarketsService,
    private readonly participants: ParticipantsService,
    private readonly usage: VerifiedUsageRepository,
    private readonly audit: AuditTrail,
  ) {}

  /** Steps newest first; `participantId` limits them to that participant's deliveries. */
  async list(query: SettlementFilter): Promise<Page<SettlementView>> {
    const limit = pageLimit(query);
    const before = decodeCursor(query.cursor, ['bigint']);
    if (query.from && query.to && Date.parse(query.from) > Date.parse(query.to)) throw invalid('VALIDATION_FAILED', 'from must not be after to', { fields: ['from', 'to'] });
    const rows: SettlementRecordRow[] = await this.dataSource.query(
      `SELECT ${SETTLEMENT_COLUMNS} FROM settlements s
        WHERE ($1::uuid IS NULL OR s.buyer_id = $1 OR s.provider_id = $1) AND ($2::text IS NULL OR s.kind = $2) AND ($3::text IS NULL OR s.status = $3)
          AND ($4::uuid IS NULL OR s.delivery_id = $4) AND ($5::bigint IS NULL OR s.id < $5::bigint)
          AND ($6::timestamptz IS NULL OR s.created_at >= $6) AND ($7::timestamptz IS NULL OR s.created_at < $7)
        ORDER BY s.id DESC LIMIT $8`,
      [query.participantId ?? null, query.kind ?? null, query.status ?? null, query.deliveryId ?? null, before?.[0] ?? null, query.from ?? null, query.to ?? null, limit + 1],
    );
    return pageOf(rows, limit, (r) => [r.id], settlementView);
  }

  /** An admin's list: an unknown participant is a 404, not an empty page. */
  async listAll(admin: Principal, query: AdminSettlementQuery): Promise<Page<SettlementView>> {
    if (query.participantId) await this.participants.get(admin, query.participantId);
    return this.list(query);
  }

  async detail(id: string): Promise<SettlementDetail> {
    const row = await this.find(id);
    const [delivery]: DeliveryRecordRow[] = await this.dataSource.query(`SELECT * FROM deliveries WHERE id = $1`, [row.delivery_id]);
    const usage = await this.usage.paidBy(row.id);
    const made = new Map((await this.ledger.transfersByIds(row.transfer_ids)).map((t) => [t.id, t]));
    return {
      settlement: settlementView(row),
      delivery: await deliveryView(this.markets, delivery),
      usage: usage.map((u) => ({ id: u.id, tokens: Number(u.tokens), recordedAt: u.recordedAt.toISOString() })),
      transfers: row.transfer_ids.map((tid) => {
        const t = made.get(tid);
        return t
          ? { id: tid, made: true, code: t.code, amount: t.amount, debit: t.debit, credit: t.credit, createdAt: t.createdAt }
          : { id: tid, made: false, code: null, amount: null, debit: null, credit: null, createdAt: null };
      }),
    };
  }

  /**
   * Runs a failed step again, once: its delivery's payout or close, by the worker's own path, with
   * the audit event in the same transaction (whether the ledger accepts it this time or not). A
   * step that is done, or was retried to done meanwhile, is a 409 and moves nothing.
   */
  async retry(admin: Principal, id: string, reason: string): Promise<SettlementDetail> {
    const step = await this.find(id);
    const notFailed = () => conflict('SETTLEMENT_NOT_FAILED', `settlement ${id} is done; only a failed step can be retried`);
    // Escrow and dispute steps commit with their cause (the fill, the resolution) or not at all: never failed.
    if (step.status !== 'failed' || step.kind === 'escrow' || step.kind === 'dispute') throw notFailed();
    const ran = await this.settlement.retry(step.delivery_id, step.kind, {
      locked: async (manager) => {
        const [now]: Array<{ status: string }> = await manager.query(`SELECT status FROM settlements WHERE id = $1 FOR UPDATE`, [id]);
        if (now?.status !== 'failed') throw notFailed();
      },
      settled: async (manager, refusal) => {
        await this.audit.record(manager, {
          actorId: admin.participantId,
          action: 'settlement.retry',
          subjectType: 'settlement',
          subjectId: id,
          details: { reason, deliveryId: step.delivery_id, kind: step.kind, outcome: refusal ? 'failed' : 'done', ...(refusal ? { error: refusal.message } : {}) },
        });
      },
    });
    if (!ran) throw conflict('SETTLEMENT_NOT_RETRYABLE', `settlement ${id} has nothing to run now: its delivery no longer needs a ${step.kind}, or is being settled at this moment`);
    return this.detail(id);
  }

  private async find(id: string): Promise<SettlementRecordRow> {
    if (!/^[1-9]\d{0,17}$/.test(id)) throw NOT_FOUND(id);
    const [row]: SettlementRecordRow[] = await this.dataSource.query(`SELECT ${SETTLEMENT_COLUMNS} FROM settlements s WHERE s.id = $1::bigint`, [id]);
    if (!row) throw NOT_FOUND(id);
    return row;
  }
}
