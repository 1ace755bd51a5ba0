import { formatUsd } from '../common/money.js';
import type { ForwardTerms } from '../markets/instrument-terms.js';
import { formatPrice, notionalPerTickLot } from '../markets/price.js';
import { initialRequirement, maintenanceRequirement } from './core/margin.js';
import type { MarginView, PositionView } from './forwards.dto.js';

/** A position with its last mark and open orders' notional (ticks × lots), as `positionRowsSql` reads it. */
export interface PositionRow {
  instrument: string;
  participant_id: string;
  lots: string;
  cost_ticks: string;
  margin_basis_micros: string;
  margin_micros: string;
  variation_micros: string;
  in_call: boolean;
  mark: string | null;
  open_buys: string;
  open_sells: string;
}

/**
 * Positions worth showing (open, holding margin, or called), with their mark and open orders,
 * filtered by `where` on `p` (forward_positions). One query for a participant's own list and the
 * admins' list, so both show the same numbers.
 */
export const positionRowsSql = (where: string, tail = '') =>
  `SELECT p.instrument, p.participant_id, p.lots::text, p.cost_ticks::text, p.margin_basis_micros::text, p.margin_micros::text, p.variation_micros::text, p.in_call,
          (SELECT price_ticks::text FROM forward_marks m WHERE m.instrument = p.instrument ORDER BY day DESC LIMIT 1) AS mark,
          coalesce((SELECT sum(price_ticks * (quantity_lots - filled_lots)) FROM orders o
                     WHERE o.instrument = p.instrument AND o.participant_id = p.participant_id AND o.status = 'open' AND o.side = 'buy'), 0)::text AS open_buys,
          coalesce((SELECT sum(price_ticks * (quantity_lots - filled_lots)) FROM orders o
                     WHERE o.instrument = p.instrument AND o.participant_id = p.participant_id AND o.status = 'open' AND o.side = 'sell'), 0)::text AS open_sells
     FROM forward_positions p WHERE (p.lots <> 0 OR p.margin_micros > 0 OR p.in_call) AND ${where} ${tail}`;

/** What `GET /v1/positions` shows of a position. */
export function positionView(r: PositionRow, terms: ForwardTerms): PositionView {
  const lots = Number(r.lots);
  const average = lots === 0 ? null : formatUsd((BigInt(r.cost_ticks) * BigInt(terms.tickMicroUsdPerMTok) + BigInt(Math.abs(lots)) / 2n) / BigInt(Math.abs(lots)));
  return {
    instrument: r.instrument,
    side: lots > 0 ? 'long' : lots < 0 ? 'short' : 'flat',
    quantity: Math.abs(lots) * terms.lotTokens,
    averagePrice: average,
    markPrice: r.mark === null ? null : formatPrice(Number(r.mark), terms),
    margin: formatUsd(BigInt(r.margin_micros)),
    variationMargin: formatUsd(BigInt(r.variation_micros)),
    marginCall: r.in_call,
    deliveryPeriod: terms.deliveryPeriod,
    lastTradeAt: terms.lastTradeAt.toISOString(),
  };
}

/** What `GET /v1/margin` shows: position, mark, equity, both requirements and the excess (market-rules §6). */
export function marginView(r: PositionRow, terms: ForwardTerms): MarginView {
  const lots = Number(r.lots);
  const perTickLot = notionalPerTickLot(terms);
  const initial = initialRequirement(terms, {
    position: { lots, marginBasis: BigInt(r.margin_basis_micros) },
    openBuys: BigInt(r.open_buys) * perTickLot,
    openSells: BigInt(r.open_sells) * perTickLot,
  });
  const maintenance = r.mark === null ? 0n : maintenanceRequirement(terms, lots, Number(r.mark), terms);
  const equity = BigInt(r.margin_micros);
  return {
    instrument: r.instrument,
    position: lots * terms.lotTokens,
    markPrice: r.mark === null ? null : formatPrice(Number(r.mark), terms),
    equity: formatUsd(equity),
    initialRequirement: formatUsd(initial),
    maintenanceRequirement: formatUsd(maintenance),
    excess: formatUsd(equity - initial),
    marginCall: r.in_call,
  };
}
