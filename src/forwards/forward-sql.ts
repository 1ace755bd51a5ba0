import type { Position } from './core/positions.js';
import type { CallRecord, MarkRecord } from './core/forward-book.js';
import { arrayLiteral, literal } from '../platform/database/sql-literals.js';

/** Columns of `forward_positions` as the loader reads them. */
export const POSITION_COLUMNS = `participant_id, lots::text, cost_ticks::text, margin_basis_micros::text, opened_seq::text, margin_micros::text,
  variation_micros::text, in_call, lots_at_mark::text, traded_ticks_since_mark::text`;

export interface PositionRecord {
  readonly participant_id: string;
  readonly lots: string;
  readonly cost_ticks: string;
  readonly margin_basis_micros: string;
  readonly opened_seq: string;
  readonly margin_micros: string;
  readonly variation_micros: string;
  readonly in_call: boolean;
  readonly lots_at_mark: string;
  readonly traded_ticks_since_mark: string;
}

export function toPosition(r: PositionRecord): Position {
  return {
    participantId: r.participant_id,
    lots: Number(r.lots),
    costTicks: BigInt(r.cost_ticks),
    marginBasis: BigInt(r.margin_basis_micros),
    openedSeq: Number(r.opened_seq),
    margin: BigInt(r.margin_micros),
    variation: BigInt(r.variation_micros),
    inCall: r.in_call,
    lotsAtMark: Number(r.lots_at_mark),
    tradedTicksSinceMark: BigInt(r.traded_ticks_since_mark),
  };
}

/** The batch's changed positions, upserted in one statement (a position is never deleted: flat is lots 0). */
export function upsertPositionsSql(symbol: string, positions: readonly Position[]): string | undefined {
  if (positions.length === 0) return undefined;
  const column = (type: string, f: (p: Position) => string | number | boolean) => arrayLiteral(positions.map(f), type);
  return `INSERT INTO forward_positions (instrument, participant_id, lots, cost_ticks, margin_basis_micros, opened_seq, margin_micros,
                                  variation_micros, in_call, lots_at_mark, traded_ticks_since_mark)
     SELECT ${literal(symbol)}, * FROM unnest(${column('uuid', (p) => p.participantId)}, ${column('bigint', (p) => p.lots)},
                   ${column('numeric', (p) => String(p.costTicks))}, ${column('bigint', (p) => String(p.marginBasis))},
                   ${column('bigint', (p) => p.openedSeq)}, ${column('bigint', (p) => String(p.margin))},
                   ${column('bigint', (p) => String(p.variation))}, ${column('boolean', (p) => p.inCall)},
                   ${column('bigint', (p) => p.lotsAtMark)}, ${column('numeric', (p) => String(p.tradedTicksSinceMark))})
     ON CONFLICT (instrument, participant_id) DO UPDATE SET
       lots = excluded.lots, cost_ticks = excluded.cost_ticks, margin_basis_micros = excluded.margin_basis_micros,
       opened_seq = excluded.opened_seq, margin_micros = excluded.margin_micros, variation_micros = excluded.variation_micros,
       in_call = excluded.in_call, lots_at_mark = excluded.lots_at_mark, traded_ticks_since_mark = excluded.traded_ticks_since_mark,
       updated_at = now()`;
}

/** A mark, once per contract and day: a second one for the same day fails the batch (its primary key). */
export function insertMarksSql(symbol: string, marks: readonly MarkRecord[]): string[] {
  return marks.map(
    (m) => `INSERT INTO forward_marks (instrument, day, price_ticks, source, previous_price_ticks, final, inputs, created_at)
     VALUES (${literal(symbol)}, ${literal(m.day)}, ${m.priceTicks}, ${literal(m.source)}, ${m.previousPriceTicks ?? 'NULL'},
             ${m.final ? 'true' : 'false'}, ${literal(JSON.stringify(m.inputs))}::jsonb, ${literal(m.at.toISOString())})`,
  );
}

export function insertMarginEventsSql(symbol: string, events: readonly CallRecord[]): string | undefined {
  if (events.length === 0) return undefined;
  const column = (type: string, f: (e: CallRecord) => string | null) => arrayLiteral(events.map(f), type);
  return `INSERT INTO forward_margin_events (instrument, participant_id, event, day, equity_micros, requirement_micros, amount_micros)
     SELECT ${literal(symbol)}, * FROM unnest(${column('uuid', (e) => e.participantId)}, ${column('text', (e) => e.event)},
                   ${column('date', (e) => e.day ?? null)}, ${column('bigint', (e) => String(e.equity))},
                   ${column('bigint', (e) => String(e.requirement))}, ${column('bigint', (e) => (e.amount === undefined ? null : String(e.amount)))})`;
}
