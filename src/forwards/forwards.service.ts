import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { conflict, invalid, notFound, unprocessable } from '../common/domain-error.js';
import { formatUsd } from '../common/money.js';
import { Clock } from '../platform/clock/clock.js';
import type { Principal } from '../platform/http/auth.js';
import { decodeCursor, type Page, pageLimit, pageOf } from '../platform/http/pagination.js';
import type { ForwardTerms, InstrumentSpec } from '../markets/instrument-terms.js';
import { formatPrice, parsePrice } from '../markets/price.js';
import { BookGateway } from '../orders/book-gateway.js';
import type { ExpiryOutcome } from './core/expiry.js';
import type { MarkOutcome } from './core/daily-mark.js';
import { FORWARD_COMMANDS } from './core/forward-commands.js';
import { marginView, type PositionRow, positionRowsSql, positionView } from './position-views.js';
import type { ExpiryView, MarginCallQuery, MarginEventView, MarginView, MarkView, PositionView, RunMarkDto, TopUpView } from './forwards.dto.js';

const DAY_MS = 86_400_000;
/** The UTC day (`YYYY-MM-DD`) that ended at the last 00:00 UTC at or before `at`. */
export const lastEndedDay = (at: Date): string => new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS - DAY_MS).toISOString().slice(0, 10);

/**
 * Forward positions, margin and marks as participants and admins see them, and the commands that
 * change them (a top-up, a mark, an expiry), which run on the contract's book through its gateway
 * so that they commit with the book like orders do.
 */
@Injectable()
export class ForwardsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly books: BookGateway,
    private readonly clock: Clock,
  ) {}

  async positions(actor: Principal): Promise<PositionView[]> {
    const rows = await this.positionRows(actor.participantId);
    const specs = await this.specs(rows.map((r) => r.instrument));
    return rows.map((r) => positionView(r, specs.get(r.instrument)!));
  }

  /** Per contract: position, mark, equity, both requirements and the excess (market-rules §6). */
  async margin(actor: Principal): Promise<MarginView[]> {
    const rows = await this.positionRows(actor.participantId);
    const specs = await this.specs(rows.map((r) => r.instrument));
    return rows.map((r) => marginView(r, specs.get(r.instrument)!));
  }

  async marks(symbol: string, query: { limit?: number; cursor?: string }): Promise<Page<MarkView>> {
    const terms = await this.forward(symbol);
    const limit = pageLimit(query);
    const after = decodeCursor(query.cursor, ['day']);
    const rows: MarkRow[] = await this.dataSource.query(
      `SELECT ${MARK_COLUMNS} FROM forward_marks WHERE instrument = $1 AND ($2::date IS NULL OR day < $2::date) ORDER BY day DESC LIMIT $3`,
      [symbol, after ? validDay(String(after[0])) : null, limit + 1],
    );
    return pageOf(rows, limit, (r) => [r.day], (r) => markView(symbol, terms, r));
  }

  async topUp(actor: Principal, symbol: string, amount: bigint, key: string): Promise<TopUpView> {
    await this.forward(symbol);
    const result = await this.books.submit(symbol, { kind: 'product', name: FORWARD_COMMANDS.topUp, participantId: actor.participantId, payload: { amount, key: `${actor.participantId}:${key}` } });
    const { margin, cured } = result.product as { margin: bigint; cured: boolean };
    return { instrument: symbol, margin: formatUsd(margin), cured };
  }

  /** Runs (or re-runs, harmlessly) the daily mark of `symbol` for a day that has ended. */
  async runMark(actor: Principal | null, symbol: string, dto: RunMarkDto): Promise<MarkView> {
    const terms = await this.forward(symbol);
    const day = dto.day ?? lastEndedDay(this.clock.now());
    await this.refuseUnmarkable(symbol, terms, day, dto.price !== undefined);
    const existing = await this.findMark(symbol, terms, day);
    if (existing) return existing; // marked before: once per contract and day
    let override: { priceTicks: number; reason: string } | undefined;
    if (dto.price !== undefined) {
      const price = parsePrice(dto.price, terms);
      if (!price.ok || price.value === 0) throw invalid('VALIDATION_FAILED', `price ${price.ok ? 'must be above zero' : price.reason}`, { fields: ['price'] });
      override = { priceTicks: price.value, reason: dto.reason! };
    }
    const audit = actor && { actorId: actor.participantId, action: override ? 'forward.mark.override' : 'forward.mark.run', details: { reason: dto.reason ?? null } };
    const result = await this.books.submit(symbol, { kind: 'product', name: FORWARD_COMMANDS.mark, payload: { day, ...(override ? { override } : {}), ...(audit ? { audit } : {}) } });
    const { mark } = result.product as MarkOutcome;
    return (await this.findMark(symbol, terms, mark.day))!;
  }

  /**
   * A day can be marked once it has ended, from the day the contract was listed to the day before
   * its last trade (whose mark is the settlement price), in order: never before the last mark, and
   * an override only on a day not yet marked (its variation margin would have moved already).
   */
  private async refuseUnmarkable(symbol: string, terms: ForwardTerms, day: string, override: boolean): Promise<void> {
    const start = Date.parse(`${day}T00:00:00Z`);
    if (!Number.isFinite(start) || new Date(start).toISOString().slice(0, 10) !== day) throw invalid('VALIDATION_FAILED', `day ${day} is not a date`, { fields: ['day'] });
    if (start + DAY_MS > this.clock.now().getTime()) throw invalid('VALIDATION_FAILED', `day ${day} has not ended yet`, { fields: ['day'] });
    if (day > lastEndedDay(terms.lastTradeAt)) throw invalid('VALIDATION_FAILED', `day ${day} is after ${symbol}'s last trade`, { fields: ['day'] });
    const [row]: Array<{ listed: string; last: string | null; marked: boolean }> = await this.dataSource.query(
      `SELECT i.created_at::date::text AS listed, (SELECT max(day)::text FROM forward_marks WHERE instrument = $1) AS last,
              EXISTS (SELECT 1 FROM forward_marks WHERE instrument = $1 AND day = $2::date) AS marked
         FROM instruments i WHERE i.symbol = $1`,
      [symbol, day],
    );
    if (day < row.listed) throw invalid('VALIDATION_FAILED', `day ${day} is before ${symbol} was listed (${row.listed})`, { fields: ['day'] });
    if (row.marked && override) throw conflict('MARK_EXISTS', `${symbol} was marked for ${day}: its variation margin has moved, so the mark stands`);
    if (!row.marked && row.last !== null && day < row.last) throw unprocessable('MARK_OUT_OF_ORDER', `${symbol} was marked up to ${row.last}: days are marked in order`);
  }

  /** Expires a contract whose last trade has passed: final mark, allocation, deliveries (once). */
  async expire(actor: Principal | null, symbol: string, reason?: string): Promise<ExpiryView> {
    const terms = await this.forward(symbol);
    if (terms.lastTradeAt.getTime() > this.clock.now().getTime()) throw unprocessable('NOT_EXPIRED', `${symbol} trades until ${terms.lastTradeAt.toISOString()}`);
    const audit = actor && { actorId: actor.participantId, action: 'forward.expire', details: { reason: reason ?? null } };
    const result = await this.books.submit(symbol, { kind: 'product', name: FORWARD_COMMANDS.expire, payload: { day: lastEndedDay(terms.lastTradeAt), ...(audit ? { audit } : {}) } });
    const outcome = result.product as ExpiryOutcome;
    return {
      instrument: symbol,
      settlementPrice: outcome.settlementPriceTicks > 0 ? formatPrice(outcome.settlementPriceTicks, terms) : null,
      settlementDay: outcome.settlementDay,
      deliveries: outcome.deliveries.length,
      repeated: outcome.repeated,
    };
  }

  async marginEvents(query: MarginCallQuery): Promise<Page<MarginEventView>> {
    const limit = pageLimit(query);
    const after = decodeCursor(query.cursor, ['bigint']);
    if ((query.status ?? 'open') === 'open') {
      if (query.event) throw invalid('VALIDATION_FAILED', 'event filters need status=all: open calls are not events', { fields: ['event'] });
      const rows: Array<{ instrument: string; participant_id: string; margin_micros: string; updated_at: Date; id: string; day: string | null; requirement_micros: string | null }> = await this.dataSource.query(
        `SELECT p.instrument, p.participant_id, p.margin_micros::text, p.updated_at, e.id::text, e.day::text, e.requirement_micros::text
           FROM forward_positions p
           LEFT JOIN LATERAL (SELECT id, day, requirement_micros FROM forward_margin_events e
                               WHERE e.instrument = p.instrument AND e.participant_id = p.participant_id AND e.event = 'raised' ORDER BY id DESC LIMIT 1) e ON true
          WHERE p.in_call AND ($1::bigint IS NULL OR e.id < $1::bigint) AND ($3::text IS NULL OR p.instrument = $3)
          ORDER BY e.id DESC NULLS LAST LIMIT $2`,
        [after ? validId(after[0]) : null, limit + 1, query.instrument ?? null],
      );
      return pageOf(rows, limit, (r) => [r.id], (r) => ({
        id: r.id,
        instrument: r.instrument,
        participantId: r.participant_id,
        event: 'open',
        day: r.day,
        equity: formatUsd(BigInt(r.margin_micros)),
        requirement: formatUsd(BigInt(r.requirement_micros ?? '0')),
        amount: null,
        createdAt: r.updated_at.toISOString(),
      }));
    }
    const rows: Array<{ id: string; instrument: string; participant_id: string; event: string; day: string | null; equity_micros: string; requirement_micros: string; amount_micros: string | null; created_at: Date }> =
      await this.dataSource.query(
        `SELECT id::text, instrument, participant_id, event, day::text, equity_micros::text, requirement_micros::text, amount_micros::text, created_at
           FROM forward_margin_events
          WHERE ($1::bigint IS NULL OR id < $1::bigint) AND ($3::text IS NULL OR instrument = $3) AND ($4::text[] IS NULL OR event = ANY($4::text[]))
          ORDER BY id DESC LIMIT $2`,
        [after ? validId(after[0]) : null, limit + 1, query.instrument ?? null, query.event ?? null],
      );
    return pageOf(rows, limit, (r) => [r.id], (r) => ({
      id: r.id,
      instrument: r.instrument,
      participantId: r.participant_id,
      event: r.event,
      day: r.day,
      equity: formatUsd(BigInt(r.equity_micros)),
      requirement: formatUsd(BigInt(r.requirement_micros)),
      amount: r.amount_micros === null ? null : formatUsd(BigInt(r.amount_micros)),
      createdAt: r.created_at.toISOString(),
    }));
  }

  /** Contracts whose daily mark is due at `now` (days that ended since the last mark, before the last trade). */
  async dueMarks(now: Date): Promise<Array<{ symbol: string; day: string }>> {
    const rows: Array<{ symbol: string; day: string }> = await this.dataSource.query(
      `SELECT i.symbol, d::date::text AS day
         FROM instruments i
         LEFT JOIN LATERAL (SELECT max(day) AS day FROM forward_marks m WHERE m.instrument = i.symbol) m ON true
         CROSS JOIN LATERAL generate_series(coalesce(m.day + 1, i.created_at::date), ($1::timestamptz - interval '1 day')::date, interval '1 day') d
        WHERE i.kind = 'forward' AND d + interval '1 day' < i.last_trade_at AND d + interval '1 day' <= $1::timestamptz
          AND EXISTS (SELECT 1 FROM forward_positions p WHERE p.instrument = i.symbol)
        ORDER BY i.symbol, d`,
      [now],
    );
    return rows;
  }

  /** Contracts past their last trade that have not expired yet: positions still open, or orders still resting. */
  async dueExpiries(now: Date): Promise<string[]> {
    const rows: Array<{ symbol: string }> = await this.dataSource.query(
      `SELECT symbol FROM instruments i WHERE kind = 'forward' AND last_trade_at <= $1
          AND (EXISTS (SELECT 1 FROM forward_positions p WHERE p.instrument = i.symbol AND p.lots <> 0)
               OR EXISTS (SELECT 1 FROM orders o WHERE o.instrument = i.symbol AND o.status = 'open'))
        ORDER BY last_trade_at, symbol`,
      [now],
    );
    return rows.map((r) => r.symbol);
  }

  private async findMark(symbol: string, terms: ForwardTerms, day: string): Promise<MarkView | undefined> {
    const [row]: MarkRow[] = await this.dataSource.query(`SELECT ${MARK_COLUMNS} FROM forward_marks WHERE instrument = $1 AND day = $2`, [symbol, day]);
    return row && markView(symbol, terms, row);
  }

  private async forward(symbol: string): Promise<ForwardTerms & InstrumentSpec> {
    const spec = await this.books.instrument(symbol);
    if (spec.kind !== 'forward') throw notFound('INSTRUMENT_NOT_FOUND', `${symbol} is not a forward`);
    return spec;
  }

  private async specs(symbols: string[]): Promise<Map<string, ForwardTerms>> {
    const specs = await Promise.all([...new Set(symbols)].map((s) => this.books.instrument(s)));
    return new Map(specs.map((s) => [s.symbol, s as ForwardTerms]));
  }

  private positionRows(participantId: string): Promise<PositionRow[]> {
    return this.dataSource.query(positionRowsSql('p.participant_id = $1', 'ORDER BY p.instrument'), [participantId]);
  }
}

const MARK_COLUMNS = 'day::text, price_ticks::text, source, previous_price_ticks::text, final, inputs, created_at';

interface MarkRow {
  day: string;
  price_ticks: string;
  source: string;
  previous_price_ticks: string | null;
  final: boolean;
  inputs: Record<string, unknown>;
  created_at: Date;
}

function markView(symbol: string, terms: ForwardTerms, r: MarkRow): MarkView {
  return {
    instrument: symbol,
    day: r.day,
    price: formatPrice(Number(r.price_ticks), terms),
    source: r.source,
    previousPrice: r.previous_price_ticks === null ? null : formatPrice(Number(r.previous_price_ticks), terms),
    final: r.final,
    inputs: r.inputs,
    createdAt: r.created_at.toISOString(),
  };
}

function validDay(text: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) throw invalid('INVALID_CURSOR', 'cursor is not a cursor this list returned');
  return text;
}

function validId(key: string | number): string {
  if (!/^\d{1,18}$/.test(String(key))) throw invalid('INVALID_CURSOR', 'cursor is not a cursor this list returned');
  return String(key);
}
