import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { notFound } from '../common/domain-error.js';
import { MarketsService } from '../markets/markets.service.js';
import { auditBreachSql } from '../metering/audit-evidence.js';
import { REQUEST_BREACH_SQL } from '../metering/request-evidence.js';
import { ParticipantsService } from '../participants/participants.service.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import type { Principal } from '../platform/http/auth.js';
import { decodeCursor, type Page, pageLimit, pageOf } from '../platform/http/pagination.js';
import { NodeProbesRepository } from '../probes/node-probes.repository.js';
import { PROBE_FRESH_INTERVALS } from '../probes/probe-evidence.js';
import { deliveryPhase, inBreach } from './core/delivery-phase.js';
import type { AdminDeliveryDetail, AdminDeliveryQuery, AdminDeliveryView } from './delivery-review.dto.js';
import { type DeliveryRecordRow, deliveryView } from './review-views.js';
import { SettlementReview } from './settlement-review.service.js';
import { SettlementService } from './settlement.service.js';

interface ReviewedRow extends DeliveryRecordRow {
  cursor_at: string;
  failed_steps: number;
  breach_now: boolean;
}

/** Probes listed on a delivery's page (the verdict reads them all). */
const PROBES_SHOWN = 200;

/**
 * Deliveries as an admin reviews them: where each stands (open, closing and why, closed), whether
 * it is in breach, and the SLA evidence a close judges by, read with the close's own call
 * (SettlementService.breachEvidence). It lives in settlement because settlement is the module
 * that reads deliveries, metering's request evidence and the probes' records together.
 */
@Injectable()
export class DeliveryReview {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly settlement: SettlementService,
    private readonly settlements: SettlementReview,
    private readonly probes: NodeProbesRepository,
    private readonly markets: MarketsService,
    private readonly participants: ParticipantsService,
  ) {}

  async list(admin: Principal, query: AdminDeliveryQuery, now = new Date()): Promise<Page<AdminDeliveryView>> {
    if (query.participantId) await this.participants.get(admin, query.participantId);
    if (query.instrument) await this.markets.requireInstrument(query.instrument);
    const limit = pageLimit(query);
    const before = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const breachNow = `(d.status = 'open' AND (${REQUEST_BREACH_SQL} OR ${this.probes.downNowSql('$7::timestamptz')} OR ${auditBreachSql('$7::timestamptz')}))`;
    const rows: ReviewedRow[] = await this.dataSource.query(
      `SELECT d.*, d.created_at::text AS cursor_at, ${breachNow} AS breach_now,
              (SELECT count(*)::int FROM settlements f WHERE f.delivery_id = d.id AND f.status = 'failed') AS failed_steps
         FROM deliveries d
        WHERE ($1::text IS NULL OR d.instrument = $1) AND ($2::uuid IS NULL OR d.buyer_id = $2 OR d.provider_id = $2)
          AND ($3::text IS NULL
               OR $3 = 'open' AND d.status = 'open' AND d.window_end > $4
               OR $3 = 'closing' AND d.status = 'open' AND d.window_end <= $4
               OR $3 = 'closed' AND d.status = 'closed'
               OR $3 = 'breach' AND (d.status = 'closed' AND d.outcome = 'breach' OR ${breachNow}))
          AND ($5::timestamptz IS NULL OR (d.created_at, d.id) < ($5::timestamptz, $6::uuid))
        ORDER BY d.created_at DESC, d.id DESC LIMIT $8`,
      [query.instrument ?? null, query.participantId ?? null, query.state ?? null, now, before?.[0] ?? null, before?.[1] ?? null, this.freshSince(now), limit + 1],
    );
    const views = await Promise.all(rows.map((r) => this.view(r, r.breach_now, now)));
    return pageOf(
      rows.map((r, i) => ({ r, view: views[i] })),
      limit,
      ({ r }) => [r.cursor_at, r.id],
      ({ view }) => view,
    );
  }

  /** One delivery with the evidence a close would judge it by now (over its window, or the part until now). */
  async detail(id: string, now = new Date()): Promise<AdminDeliveryDetail> {
    const [row]: Array<DeliveryRecordRow & { failed_steps: number }> = await this.dataSource.query(
      `SELECT d.*, (SELECT count(*)::int FROM settlements f WHERE f.delivery_id = d.id AND f.status = 'failed') AS failed_steps
         FROM deliveries d WHERE d.id = $1`,
      [id],
    );
    if (!row) throw notFound('DELIVERY_NOT_FOUND', `no delivery with id ${id}`);
    const until = new Date(Math.max(row.window_start.getTime(), Math.min(now.getTime(), row.window_end.getTime())));
    const evidence = await this.settlement.breachEvidence(this.dataSource.manager, {
      id: row.id,
      providerId: row.provider_id,
      modelClassId: row.model_class_id,
      windowStart: row.window_start,
      windowEnd: until,
    });
    const probes = await this.probes.probesBetween(this.dataSource.manager, row.provider_id, row.model_class_id, row.window_start, row.window_end, PROBES_SHOWN);
    const settlements = await this.settlements.list({ deliveryId: row.id, limit: 1000 });
    return {
      delivery: await this.view(row, evidence.breach, now),
      evidence: { from: row.window_start.toISOString(), until: until.toISOString(), ...evidence },
      probes: probes.map((p) => ({ nodeId: p.nodeId, probedAt: p.probedAt.toISOString(), ok: p.ok, statusCode: p.statusCode, latencyMs: p.latencyMs, error: p.error })),
      settlements: settlements.items,
    };
  }

  private async view(r: DeliveryRecordRow & { failed_steps: number }, evidenceBreach: boolean, now: Date): Promise<AdminDeliveryView> {
    const phase = deliveryPhase(
      { status: r.status, outcome: r.outcome, windowEnd: r.window_end.getTime(), disputedTokens: BigInt(r.disputed_tokens), failedSteps: r.failed_steps },
      now.getTime(),
      this.config.jobs.settlementCloseGraceMs,
    );
    return {
      ...(await deliveryView(this.markets, r)),
      phase: phase.phase,
      waitingOn: phase.waitingOn,
      closeDueAt: phase.closeDueAt === null ? null : new Date(phase.closeDueAt).toISOString(),
      inBreach: inBreach(r, evidenceBreach),
      failedSteps: r.failed_steps,
    };
  }

  private freshSince(now: Date): Date {
    return new Date(now.getTime() - PROBE_FRESH_INTERVALS * this.config.jobs.nodeProbeIntervalMs);
  }
}
