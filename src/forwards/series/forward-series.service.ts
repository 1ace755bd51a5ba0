import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { conflict, invalid, notFound } from '../../common/domain-error.js';
import { instrumentSymbol } from '../../markets/instrument-terms.js';
import { MarketsService } from '../../markets/markets.service.js';
import { formatTickSize } from '../../markets/price.js';
import { AuditTrail } from '../../platform/audit/audit-trail.js';
import { Clock } from '../../platform/clock/clock.js';
import type { Principal } from '../../platform/http/auth.js';
import { decodeCursor, type ListedRow, type Page, pageLimit, pageOf, type PageQuery } from '../../platform/http/pagination.js';
import { Outbox } from '../../platform/jobs/outbox.js';
import type { ForwardSeriesView } from './forward-series.dto.js';
import { dueContracts, type SeriesCadence } from './listing-plan.js';
import { periodsAheadProblem, resolveSeriesTerms, type SeriesRequest, type SeriesTerms } from './series-terms.js';

/** A `forward_series` row as PostgreSQL returns it. */
interface SeriesRecord {
  id: string;
  model_class_id: string;
  cadence: SeriesCadence;
  periods_ahead: number;
  initial_margin_bps: number;
  maintenance_margin_bps: number;
  bond_bps: number;
  tick_micro_usd_per_mtok: string;
  lot_tokens: string;
  maker_fee_bps: number;
  taker_fee_bps: number;
  collar_bps: number;
  active: boolean;
  created_at: Date;
  updated_at: Date;
  /** `updated_at::text`: microseconds intact, so each change gets its own listing run. */
  version: string;
}

const SERIES_COLUMNS = `id, model_class_id, cadence, periods_ahead, initial_margin_bps, maintenance_margin_bps, bond_bps,
  tick_micro_usd_per_mtok, lot_tokens, maker_fee_bps, taker_fee_bps, collar_bps, active, created_at, updated_at, updated_at::text AS version`;

const SERIES_NOT_FOUND = () => notFound('FORWARD_SERIES_NOT_FOUND', 'no such forward series');

/** An active series, as the listing run reads it. */
export interface SeriesSpec extends SeriesTerms {
  readonly id: string;
}

const seriesSpec = (r: SeriesRecord): SeriesSpec => ({
  id: r.id,
  modelClassId: r.model_class_id,
  cadence: r.cadence,
  periodsAhead: r.periods_ahead,
  initialMarginBps: r.initial_margin_bps,
  maintenanceMarginBps: r.maintenance_margin_bps,
  bondBps: r.bond_bps,
  tickMicroUsdPerMTok: Number(r.tick_micro_usd_per_mtok),
  lotTokens: Number(r.lot_tokens),
  makerFeeBps: r.maker_fee_bps,
  takerFeeBps: r.taker_fee_bps,
  collarBps: r.collar_bps,
});

/**
 * Forward series (market-rules §6): admins define them; the listing run (ForwardListing) lists
 * their contracts. Every change is audited and enqueues a listing run through the outbox in the
 * same transaction, so new contracts appear without waiting for the schedule.
 */
@Injectable()
export class ForwardSeriesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly markets: MarketsService,
    private readonly audit: AuditTrail,
    private readonly outbox: Outbox,
    private readonly clock: Clock,
  ) {}

  async create(actor: Principal, request: SeriesRequest & { active?: boolean }): Promise<ForwardSeriesView> {
    const resolved = resolveSeriesTerms(request);
    if (!resolved.ok) throw invalid('VALIDATION_FAILED', resolved.message, { fields: resolved.fields });
    const t = resolved.terms;
    return this.dataSource.transaction(async (manager) => {
      if (!(await this.markets.modelClass(t.modelClassId, manager))) throw notFound('MODEL_CLASS_NOT_FOUND', 'no such model class');
      const [row]: SeriesRecord[] = await manager.query(
        `INSERT INTO forward_series (model_class_id, cadence, periods_ahead, initial_margin_bps, maintenance_margin_bps, bond_bps,
           tick_micro_usd_per_mtok, lot_tokens, maker_fee_bps, taker_fee_bps, collar_bps, active)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (model_class_id, cadence) DO NOTHING RETURNING ${SERIES_COLUMNS}`,
        [t.modelClassId, t.cadence, t.periodsAhead, t.initialMarginBps, t.maintenanceMarginBps, t.bondBps, t.tickMicroUsdPerMTok, t.lotTokens, t.makerFeeBps, t.takerFeeBps, t.collarBps, request.active ?? true],
      );
      if (!row) throw conflict('FORWARD_SERIES_EXISTS', `a ${t.cadence} forward series of ${t.modelClassId} already exists`);
      return this.recorded(manager, actor, 'forward-series.create', row, { ...seriesSpec(row), active: row.active });
    });
  }

  async list(query: PageQuery): Promise<Page<ForwardSeriesView>> {
    const limit = pageLimit(query);
    const after = decodeCursor(query.cursor, ['timestamp', 'text']);
    const rows: Array<SeriesRecord & ListedRow> = await this.dataSource.query(
      `SELECT ${SERIES_COLUMNS}, created_at::text AS cursor_at FROM forward_series
        WHERE $1::timestamptz IS NULL OR (created_at, id::text) > ($1::timestamptz, $2::text)
        ORDER BY created_at, id LIMIT $3`,
      [after?.[0] ?? null, after?.[1] ?? null, limit + 1],
    );
    const now = this.clock.now();
    return pageOf(rows, limit, (r) => [r.cursor_at, r.id], (r) => this.view(r, now));
  }

  async get(id: string): Promise<ForwardSeriesView> {
    const [row]: SeriesRecord[] = await this.dataSource.query(`SELECT ${SERIES_COLUMNS} FROM forward_series WHERE id = $1`, [id]);
    if (!row) throw SERIES_NOT_FOUND();
    return this.view(row, this.clock.now());
  }

  /** Changes how far ahead a series lists, or pauses and resumes it. Contracts already listed are never withdrawn. */
  async update(actor: Principal, id: string, changes: { periodsAhead?: number; active?: boolean }): Promise<ForwardSeriesView> {
    if (changes.periodsAhead === undefined && changes.active === undefined) {
      throw invalid('VALIDATION_FAILED', 'give periodsAhead, active or both', { fields: ['periodsAhead', 'active'] });
    }
    return this.dataSource.transaction(async (manager) => {
      const [current]: SeriesRecord[] = await manager.query(`SELECT ${SERIES_COLUMNS} FROM forward_series WHERE id = $1 FOR UPDATE`, [id]);
      if (!current) throw SERIES_NOT_FOUND();
      const ahead = changes.periodsAhead === undefined ? undefined : periodsAheadProblem(current.cadence, changes.periodsAhead);
      if (ahead) throw invalid('VALIDATION_FAILED', ahead.message, { fields: ahead.fields });
      const [[row]]: [SeriesRecord[]] = await manager.query(
        `UPDATE forward_series SET periods_ahead = coalesce($2, periods_ahead), active = coalesce($3, active), updated_at = now()
          WHERE id = $1 RETURNING ${SERIES_COLUMNS}`,
        [id, changes.periodsAhead ?? null, changes.active ?? null],
      );
      return this.recorded(manager, actor, 'forward-series.update', row, { ...changes });
    });
  }

  /** Every active series, oldest first: what the listing run lists for. */
  async activeSeries(manager: EntityManager = this.dataSource.manager): Promise<SeriesSpec[]> {
    const rows: SeriesRecord[] = await manager.query(`SELECT ${SERIES_COLUMNS} FROM forward_series WHERE active ORDER BY created_at, id`);
    return rows.map(seriesSpec);
  }

  /** Audits the change and enqueues a listing run, both with it; the key makes each change its own run. */
  private async recorded(manager: EntityManager, actor: Principal, action: string, row: SeriesRecord, details: Record<string, unknown>): Promise<ForwardSeriesView> {
    await this.audit.record(manager, { actorId: actor.participantId, action, subjectType: 'forward-series', subjectId: row.id, details });
    if (row.active) await this.outbox.add(manager, 'forwards.list-contracts', `series ${row.id} ${row.version}`, { reason: `${action} ${row.id}` });
    return this.view(row, this.clock.now());
  }

  private view(r: SeriesRecord, now: Date): ForwardSeriesView {
    const { tickMicroUsdPerMTok, lotTokens, ...terms } = seriesSpec(r);
    return {
      ...terms,
      tickSize: formatTickSize(tickMicroUsdPerMTok),
      lotSize: lotTokens,
      active: r.active,
      dueContracts: r.active ? dueContracts(seriesSpec(r), now).map((label) => instrumentSymbol(r.model_class_id, label)) : [],
      createdAt: r.created_at.toISOString(),
      updatedAt: r.updated_at.toISOString(),
    };
  }

}
