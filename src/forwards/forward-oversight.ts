import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { invalid, notFound } from '../common/domain-error.js';
import type { ForwardTerms } from '../markets/instrument-terms.js';
import { formatPrice } from '../markets/price.js';
import { BookGateway } from '../orders/book-gateway.js';
import { decodeCursor, type Page, pageLimit, pageOf } from '../platform/http/pagination.js';
import type { AdminPositionQuery, AdminPositionView } from './forwards.dto.js';
import { marginView, type PositionRow, positionRowsSql, positionView } from './position-views.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What admins see of a contract beside its terms: its last mark, open interest, holders and calls. */
export interface ContractSummary {
  readonly lastMark: { readonly day: string; readonly price: string; readonly final: boolean } | null;
  /** Tokens held long (= held short). */
  readonly openInterest: number;
  /** Participants with a position, or margin, on it. */
  readonly holders: number;
  readonly openCalls: number;
  /** Positions or orders still open: past its last trade, it has not expired yet. */
  readonly open: boolean;
}

/**
 * Forwards across every participant, for admins (the ops console and `/v1/admin/positions`): each
 * position shown with the same view functions as its holder's own `GET /v1/positions` and
 * `GET /v1/margin`, and a summary per contract.
 */
@Injectable()
export class ForwardOversight {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly books: BookGateway,
  ) {}

  async positions(query: AdminPositionQuery): Promise<Page<AdminPositionView>> {
    if (query.instrument !== undefined && (await this.books.instrument(query.instrument)).kind !== 'forward') {
      throw notFound('INSTRUMENT_NOT_FOUND', `${query.instrument} is not a forward`);
    }
    if (query.participant !== undefined) {
      const [known] = await this.dataSource.query(`SELECT 1 FROM participants WHERE id = $1`, [query.participant]);
      if (!known) throw notFound('PARTICIPANT_NOT_FOUND', `no participant ${query.participant}`);
    }
    const limit = pageLimit(query);
    const after = decodeCursor(query.cursor, ['text', 'uuid']);
    if (after && !UUID.test(String(after[1]))) throw invalid('INVALID_CURSOR', 'cursor is not a cursor this list returned');
    const rows: Array<PositionRow & { name: string }> = await this.dataSource.query(
      `SELECT r.*, pa.name FROM (${positionRowsSql(
        `($1::text IS NULL OR p.instrument = $1) AND ($2::uuid IS NULL OR p.participant_id = $2)
         AND ($3::text IS NULL OR (p.instrument, p.participant_id) > ($3::text, $4::uuid))`,
        'ORDER BY p.instrument, p.participant_id LIMIT $5',
      )}) r JOIN participants pa ON pa.id = r.participant_id ORDER BY r.instrument, r.participant_id`,
      [query.instrument ?? null, query.participant ?? null, after ? String(after[0]) : null, after ? String(after[1]) : null, limit + 1],
    );
    const terms = await this.terms(rows.map((r) => r.instrument));
    return pageOf(rows, limit, (r) => [r.instrument, r.participant_id], (r) => {
      const t = terms.get(r.instrument)!;
      return { participantId: r.participant_id, participantName: r.name, ...positionView(r, t), ...marginView(r, t) };
    });
  }

  async summaries(symbols: readonly string[]): Promise<Map<string, ContractSummary>> {
    if (symbols.length === 0) return new Map();
    const rows: Array<{ symbol: string; day: string | null; price_ticks: string | null; final: boolean | null; long_tokens: string; holders: string; calls: string; open: boolean }> =
      await this.dataSource.query(
        `SELECT i.symbol, m.day::text, m.price_ticks::text, m.final,
                coalesce((SELECT sum(lots) FROM forward_positions p WHERE p.instrument = i.symbol AND p.lots > 0), 0) * i.lot_tokens AS long_tokens,
                (SELECT count(*) FROM forward_positions p WHERE p.instrument = i.symbol AND (p.lots <> 0 OR p.margin_micros > 0 OR p.in_call)) AS holders,
                (SELECT count(*) FROM forward_positions p WHERE p.instrument = i.symbol AND p.in_call) AS calls,
                EXISTS (SELECT 1 FROM forward_positions p WHERE p.instrument = i.symbol AND p.lots <> 0)
                  OR EXISTS (SELECT 1 FROM orders o WHERE o.instrument = i.symbol AND o.status = 'open') AS open
           FROM instruments i
           LEFT JOIN LATERAL (SELECT day, price_ticks, final FROM forward_marks m WHERE m.instrument = i.symbol ORDER BY day DESC LIMIT 1) m ON true
          WHERE i.kind = 'forward' AND i.symbol = ANY($1::text[])`,
        [symbols],
      );
    const terms = await this.terms(rows.map((r) => r.symbol));
    return new Map(
      rows.map((r) => [
        r.symbol,
        {
          lastMark: r.day === null ? null : { day: r.day, price: formatPrice(Number(r.price_ticks), terms.get(r.symbol)!), final: r.final === true },
          openInterest: Number(r.long_tokens),
          holders: Number(r.holders),
          openCalls: Number(r.calls),
          open: r.open,
        },
      ]),
    );
  }

  private async terms(symbols: string[]): Promise<Map<string, ForwardTerms>> {
    const specs = await Promise.all([...new Set(symbols)].map((s) => this.books.instrument(s)));
    return new Map(specs.map((s) => [s.symbol, s as ForwardTerms]));
  }
}
