import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditTrail } from '../platform/audit/audit-trail.js';
import { conflict, invalid, notFound } from '../common/domain-error.js';
import { formatUsd } from '../common/money.js';
import { decodeCursor, type Page, pageLimit, pageOf } from '../platform/http/pagination.js';
import type { Principal } from '../platform/http/auth.js';
import { DeliveriesRepository } from '../deliveries/deliveries.repository.js';
import { DisputeMoney, type DisputeRefundMoney } from './dispute-money.js';
import { DisputeEvidenceRepository } from './dispute-evidence.js';
import { DisputesRepository } from './disputes.repository.js';
import type { DisputeDetailView, DisputeQuery, DisputeView, ResolveDisputeDto } from './metering.dto.js';
import { VerifiedUsageRepository } from './verified-usage.repository.js';

interface DisputeRecord {
  id: string;
  kind: string;
  delivery_id: string;
  node_id: string;
  provider_id: string;
  buyer_id: string;
  tokens: string;
  evidence: Record<string, unknown>;
  status: string;
  resolution: DisputeView['resolution'];
  provider_tokens: string | null;
  reason: string | null;
  resolved_by: string | null;
  created_at: Date;
  resolved_at: Date | null;
  cursor_at: string;
}

/**
 * Disputes for admins (market-rules §7): list them with their evidence, and resolve each once.
 * Resolving releases the held tokens: those awarded to the provider become verified usage (paid
 * by the next payout); those awarded to the buyer were not delivered through the provider's
 * fault, so they leave the delivery for good, refunded to the buyer with the breach penalty from
 * the provider's bond (settlement's DisputeRefunds, through DisputeMoney, in the same transaction). Every resolution is
 * audited, with the money it moved.
 */
@Injectable()
export class DisputesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly disputes: DisputesRepository,
    private readonly evidence: DisputeEvidenceRepository,
    private readonly deliveries: DeliveriesRepository,
    private readonly usage: VerifiedUsageRepository,
    private readonly refunds: DisputeMoney,
    private readonly audit: AuditTrail,
  ) {}

  async list(query: DisputeQuery): Promise<Page<DisputeView>> {
    const limit = pageLimit(query);
    const before = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const rows: DisputeRecord[] = await this.dataSource.query(
      `SELECT *, created_at::text AS cursor_at FROM disputes
        WHERE ($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR delivery_id = $2)
          AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
        ORDER BY created_at DESC, id DESC LIMIT $5`,
      [query.status ?? null, query.deliveryId ?? null, before?.[0] ?? null, before?.[1] ?? null, limit + 1],
    );
    const refunds = await this.refunds.ofDisputes(this.dataSource.manager, rows.map((r) => r.id));
    return pageOf(rows, limit, (r) => [r.cursor_at, r.id], (r) => view(r, refunds.get(r.id)));
  }

  /** One dispute with its evidence side by side: the node's report, the buyer's, the audits, the node's counters. */
  async get(id: string): Promise<DisputeDetailView> {
    const [d]: DisputeRecord[] = await this.dataSource.query(`SELECT *, created_at::text AS cursor_at FROM disputes WHERE id = $1`, [id]);
    if (!d) throw notFound('DISPUTE_NOT_FOUND', 'no such dispute');
    const sides = await this.evidence.read(this.dataSource.manager, { id: d.id, deliveryId: d.delivery_id, nodeId: d.node_id, evidence: d.evidence, createdAt: d.created_at });
    return { ...view(d, await this.refundOf(this.dataSource.manager, d.id)), resolvedBy: d.resolved_by, ...sides };
  }

  /**
   * Resolves an open dispute once, with the admin's reason in the audit trail, in the same
   * transaction (the one method behind the admin route and the console's form). The buyer's
   * tokens (all for `buyer`, `tokens - providerTokens` for `split`) are refunded in it too.
   */
  async resolve(actor: Principal, id: string, dto: ResolveDisputeDto): Promise<DisputeView> {
    // The API's DTO says the same; the console's form reaches here too, so the rule lives here.
    if (typeof dto.reason !== 'string' || dto.reason.trim().length < 3) {
      throw invalid('VALIDATION_FAILED', 'reason is required: say why, in at least 3 characters', { fields: ['reason'] });
    }
    if ((dto.resolution === 'split') !== (dto.providerTokens !== undefined)) {
      throw invalid('VALIDATION_FAILED', 'providerTokens is required for a split and only for a split', { fields: ['providerTokens'] });
    }
    return this.dataSource.transaction(async (manager) => {
      const [d]: DisputeRecord[] = await manager.query(`SELECT *, created_at::text AS cursor_at FROM disputes WHERE id = $1 FOR UPDATE`, [id]);
      if (!d) throw notFound('DISPUTE_NOT_FOUND', 'no such dispute');
      if (d.status !== 'open') throw conflict('DISPUTE_RESOLVED', `this dispute is already resolved (${d.resolution}, at ${d.resolved_at?.toISOString()})`);
      const tokens = BigInt(d.tokens);
      const toProvider = dto.resolution === 'provider' ? tokens : dto.resolution === 'buyer' ? 0n : BigInt(dto.providerTokens!);
      if (toProvider > tokens) throw invalid('VALIDATION_FAILED', `providerTokens must be at most the ${tokens} disputed tokens`, { fields: ['providerTokens'] });
      await this.deliveries.releaseDisputedTokens(manager, d.delivery_id, d.tokens);
      // An admin has judged the node's counters: its reconciliation begins afresh with its next
      // batch, or the old excess would flag every batch of it forever (core/reconciliation.ts).
      if (d.kind === 'counter_mismatch') await manager.query(`DELETE FROM node_reconciliations WHERE node_id = $1`, [d.node_id]);
      if (toProvider > 0n) await this.usage.record(`dispute:${d.id}`, d.delivery_id, toProvider, manager);
      const refund = toProvider < tokens ? await this.refunds.refund(manager, d.id, d.delivery_id, tokens - toProvider) : null;
      const resolved = await this.disputes.resolve<DisputeRecord>(
        manager,
        id,
        { resolution: dto.resolution, providerTokens: toProvider, reason: dto.reason.trim(), resolvedBy: actor.participantId },
        '*, created_at::text AS cursor_at',
      );
      await this.audit.record(manager, {
        actorId: actor.participantId,
        action: 'dispute.resolve',
        subjectType: 'dispute',
        subjectId: id,
        details: {
          resolution: dto.resolution,
          providerTokens: String(toProvider),
          tokens: d.tokens,
          reason: dto.reason.trim(),
          ...(refund ? { refundedTokens: String(refund.tokens), buyerRefund: String(refund.refund), penalty: String(refund.penalty), settlementId: refund.settlementId } : {}),
        },
      });
      return view(resolved, refund ?? undefined);
    });
  }

  private async refundOf(manager: EntityManager, id: string): Promise<DisputeRefundMoney | undefined> {
    return (await this.refunds.ofDisputes(manager, [id])).get(id);
  }
}

function view(r: DisputeRecord, refund?: DisputeRefundMoney): DisputeView {
  return {
    id: r.id,
    kind: r.kind,
    deliveryId: r.delivery_id,
    nodeId: r.node_id,
    providerId: r.provider_id,
    buyerId: r.buyer_id,
    tokens: Number(r.tokens),
    evidence: r.evidence,
    status: r.status,
    resolution: r.resolution,
    providerTokens: r.provider_tokens === null ? null : Number(r.provider_tokens),
    reason: r.reason,
    refund: refund
      ? { settlementId: refund.settlementId, tokens: Number(refund.tokens), buyerRefund: formatUsd(refund.refund), penalty: formatUsd(refund.penalty) }
      : null,
    createdAt: r.created_at.toISOString(),
    resolvedAt: r.resolved_at?.toISOString() ?? null,
  };
}
