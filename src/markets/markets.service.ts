import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditTrail } from '../platform/audit/audit-trail.js';
import { conflict, invalid, notFound } from '../common/domain-error.js';
import { decodeCursor, type ListedRow, type Page, pageLimit, pageOf, type PageQuery } from '../platform/http/pagination.js';
import type { Principal } from '../platform/http/auth.js';
import { Clock } from '../platform/clock/clock.js';
import { INSTRUMENT_COLUMNS, type InstrumentRecord, insertInstrumentQuery, instrumentSpec, instrumentView } from './instrument-rows.js';
import {
  type InstrumentKind,
  type InstrumentRequest,
  type InstrumentSpec,
  type InstrumentStatus,
  type InstrumentTerms,
  resolveInstrumentTerms,
} from './instrument-terms.js';
import type { InstrumentView, ModelClassView } from './markets.dto.js';

/** A model class as other modules use it (metering weighs prompt tokens with inputWeightBps). */
export interface ModelClassSpec {
  readonly id: string;
  readonly tokenizer: string;
  readonly inputWeightBps: number;
  readonly minTokensPerSecond: number;
  readonly maxTtftMs: number;
}

interface ModelClassRecord {
  id: string;
  tokenizer: string;
  input_weight_bps: number;
  min_tokens_per_second: number;
  max_ttft_ms: number;
  created_at: Date;
}

const MODEL_CLASS_COLUMNS = 'id, tokenizer, input_weight_bps, min_tokens_per_second, max_ttft_ms, created_at';
/** NOTIFY channel: an instrument was listed, halted or resumed (payload: its symbol), on commit. */
export const INSTRUMENT_CHANNEL = 'tokex_instruments';

const MODEL_CLASS_NOT_FOUND = () => notFound('MODEL_CLASS_NOT_FOUND', 'no such model class');
const INSTRUMENT_NOT_FOUND = () => notFound('INSTRUMENT_NOT_FOUND', 'no such instrument');

const modelClassSpec = (r: ModelClassRecord): ModelClassSpec => ({
  id: r.id,
  tokenizer: r.tokenizer,
  inputWeightBps: r.input_weight_bps,
  minTokensPerSecond: r.min_tokens_per_second,
  maxTtftMs: r.max_ttft_ms,
});

const modelClassView = (r: ModelClassRecord): ModelClassView => ({ ...modelClassSpec(r), createdAt: r.created_at.toISOString() });

/**
 * Model classes and instruments: listed by admins, read by everyone. Other modules use
 * `modelClass`, `instrument` and `listActiveInstruments`, which answer in integers.
 */
@Injectable()
export class MarketsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditTrail,
    private readonly clock: Clock,
  ) {}

  async createModelClass(actor: Principal, request: ModelClassSpec): Promise<ModelClassView> {
    return this.dataSource.transaction(async (manager) => {
      const [row]: ModelClassRecord[] = await manager.query(
        `INSERT INTO model_classes (id, tokenizer, input_weight_bps, min_tokens_per_second, max_ttft_ms) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO NOTHING RETURNING ${MODEL_CLASS_COLUMNS}`,
        [request.id, request.tokenizer, request.inputWeightBps, request.minTokensPerSecond, request.maxTtftMs],
      );
      if (!row) throw conflict('MODEL_CLASS_EXISTS', `model class ${request.id} already exists`);
      await this.audit.record(manager, {
        actorId: actor.participantId,
        action: 'model-class.create',
        subjectType: 'model-class',
        subjectId: row.id,
        details: { ...modelClassSpec(row) },
      });
      return modelClassView(row);
    });
  }

  async listModelClasses(query: PageQuery): Promise<Page<ModelClassView>> {
    const limit = pageLimit(query);
    const after = decodeCursor(query.cursor, ['timestamp', 'text']);
    const rows: Array<ModelClassRecord & ListedRow> = await this.dataSource.query(
      `SELECT ${MODEL_CLASS_COLUMNS}, created_at::text AS cursor_at FROM model_classes
        WHERE $1::timestamptz IS NULL OR (created_at, id) > ($1::timestamptz, $2::text)
        ORDER BY created_at, id LIMIT $3`,
      [after?.[0] ?? null, after?.[1] ?? null, limit + 1],
    );
    return pageOf(rows, limit, (r) => [r.cursor_at, r.id], modelClassView);
  }

  async getModelClass(id: string): Promise<ModelClassView> {
    const row = await this.modelClassRecord(this.dataSource.manager, id);
    if (!row) throw MODEL_CLASS_NOT_FOUND();
    return modelClassView(row);
  }

  /** A model class, or undefined: for other modules (nodes, metering). */
  async modelClass(id: string, manager: EntityManager = this.dataSource.manager): Promise<ModelClassSpec | undefined> {
    const row = await this.modelClassRecord(manager, id);
    return row && modelClassSpec(row);
  }

  async createInstrument(actor: Principal, request: InstrumentRequest): Promise<InstrumentView> {
    const resolved = resolveInstrumentTerms(request, this.clock.now());
    if (!resolved.ok) throw invalid(resolved.code, resolved.message, { fields: resolved.fields });
    return this.dataSource.transaction(async (manager) => {
      const view = await this.insertInstrument(manager, resolved.terms, actor.participantId, {});
      if (!view) throw conflict('INSTRUMENT_EXISTS', `instrument ${resolved.terms.symbol} already exists`);
      return view;
    });
  }

  /**
   * Lists a forward for a worker (a series' listing run): the same terms, checks and audit as the
   * admin route, at the caller's `now`, in the caller's transaction. An instrument already listed
   * under that symbol is left as it is: the answer is then undefined, so a repeated run lists
   * nothing twice. `origin` is recorded in the audit details (e.g. the series id).
   */
  async listForward(
    manager: EntityManager,
    request: InstrumentRequest & { kind: 'forward' },
    now: Date,
    origin: Record<string, unknown>,
  ): Promise<InstrumentView | undefined> {
    const resolved = resolveInstrumentTerms(request, now);
    if (!resolved.ok) throw invalid(resolved.code, resolved.message, { fields: resolved.fields });
    return this.insertInstrument(manager, resolved.terms, null, origin);
  }

  private async insertInstrument(
    manager: EntityManager,
    terms: InstrumentTerms,
    actorId: string | null,
    origin: Record<string, unknown>,
  ): Promise<InstrumentView | undefined> {
    if (!(await this.modelClassRecord(manager, terms.modelClassId))) throw MODEL_CLASS_NOT_FOUND();
    const [sql, parameters] = insertInstrumentQuery(terms);
    const [row]: InstrumentRecord[] = await manager.query(sql, parameters);
    if (!row) return undefined;
    await this.audit.record(manager, {
      actorId,
      action: 'instrument.create',
      subjectType: 'instrument',
      subjectId: row.symbol,
      details: { ...instrumentView(row), ...origin },
    });
    await this.notify(manager, row.symbol);
    return instrumentView(row);
  }

  async listInstruments(query: PageQuery & { kind?: InstrumentKind; modelClass?: string; status?: InstrumentStatus }): Promise<Page<InstrumentView>> {
    const limit = pageLimit(query);
    const after = decodeCursor(query.cursor, ['timestamp', 'text']);
    const rows: Array<InstrumentRecord & ListedRow> = await this.dataSource.query(
      `SELECT ${INSTRUMENT_COLUMNS}, created_at::text AS cursor_at FROM instruments
        WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR model_class_id = $2) AND ($3::text IS NULL OR status = $3)
          AND ($4::timestamptz IS NULL OR (created_at, symbol) > ($4::timestamptz, $5::text))
        ORDER BY created_at, symbol LIMIT $6`,
      [query.kind ?? null, query.modelClass ?? null, query.status ?? null, after?.[0] ?? null, after?.[1] ?? null, limit + 1],
    );
    return pageOf(rows, limit, (r) => [r.cursor_at, r.symbol], instrumentView);
  }

  async getInstrument(symbol: string): Promise<InstrumentView> {
    const row = await this.instrumentRecord(this.dataSource.manager, symbol);
    if (!row) throw INSTRUMENT_NOT_FOUND();
    return instrumentView(row);
  }

  /**
   * Halt or resume trading. Asking for the status an instrument already has returns it
   * unchanged and records nothing.
   */
  async setInstrumentStatus(actor: Principal, symbol: string, status: InstrumentStatus, reason: string): Promise<InstrumentView> {
    const view = await this.dataSource.transaction(async (manager) => {
      const row = await this.instrumentRecord(manager, symbol, 'FOR UPDATE');
      if (!row) throw INSTRUMENT_NOT_FOUND();
      if (row.status === status) return instrumentView(row);
      const halted = status === 'halted';
      const [[updated]]: [InstrumentRecord[]] = await manager.query(
        `UPDATE instruments SET status = $2, halt_reason = $3, halted_at = CASE WHEN $4 THEN now() END WHERE symbol = $1
         RETURNING ${INSTRUMENT_COLUMNS}`,
        [symbol, status, halted ? reason : null, halted],
      );
      await this.audit.record(manager, {
        actorId: actor.participantId,
        action: halted ? 'instrument.halt' : 'instrument.resume',
        subjectType: 'instrument',
        subjectId: symbol,
        details: { reason },
      });
      await this.notify(manager, symbol);
      return instrumentView(updated);
    });
    // This process learns at once (other processes through the NOTIFY, on commit).
    for (const listener of this.statusListeners) listener(symbol);
    return view;
  }

  private readonly statusListeners = new Set<(symbol: string) => void>();

  /** Called in this process after an instrument is halted or resumed (the order writers re-read it). */
  onStatusChanged(listener: (symbol: string) => void): void {
    this.statusListeners.add(listener);
  }

  /** An instrument's terms and status in integers, or undefined: what the order path checks against. */
  async instrument(symbol: string, manager: EntityManager = this.dataSource.manager): Promise<InstrumentSpec | undefined> {
    const row = await this.instrumentRecord(manager, symbol);
    return row && instrumentSpec(row);
  }

  /** Like `instrument`, for callers that name an instrument a client gave: unknown is a 404. */
  async requireInstrument(symbol: string, manager: EntityManager = this.dataSource.manager): Promise<InstrumentSpec> {
    const spec = await this.instrument(symbol, manager);
    if (!spec) throw INSTRUMENT_NOT_FOUND();
    return spec;
  }

  /** Every instrument not halted, oldest first; forwards past lastTradeAt included (see `tradingState`). */
  async listActiveInstruments(manager: EntityManager = this.dataSource.manager): Promise<InstrumentSpec[]> {
    const rows: InstrumentRecord[] = await manager.query(
      `SELECT ${INSTRUMENT_COLUMNS} FROM instruments WHERE status = 'active' ORDER BY created_at, symbol`,
    );
    return rows.map(instrumentSpec);
  }

  private async modelClassRecord(manager: EntityManager, id: string): Promise<ModelClassRecord | undefined> {
    const [row]: ModelClassRecord[] = await manager.query(`SELECT ${MODEL_CLASS_COLUMNS} FROM model_classes WHERE id = $1`, [id]);
    return row;
  }

  private async instrumentRecord(manager: EntityManager, symbol: string, lock: '' | 'FOR UPDATE' = ''): Promise<InstrumentRecord | undefined> {
    const [row]: InstrumentRecord[] = await manager.query(`SELECT ${INSTRUMENT_COLUMNS} FROM instruments WHERE symbol = $1 ${lock}`, [symbol]);
    return row;
  }

  /** Delivered on commit, so listeners (order entry's instrument cache) never see a rolled-back change. */
  private notify(manager: EntityManager, symbol: string): Promise<unknown> {
    return manager.query(`SELECT pg_notify($1, $2)`, [INSTRUMENT_CHANNEL, symbol]);
  }
}
