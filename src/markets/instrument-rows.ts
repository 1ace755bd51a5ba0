import { deliveryDays, FORWARD_QUANTITY_UNIT, type InstrumentKind, type InstrumentSpec, type InstrumentStatus, type InstrumentTerms } from './instrument-terms.js';
import type { InstrumentView } from './markets.dto.js';
import { formatTickSize } from './price.js';

/** An `instruments` row as PostgreSQL returns it; markets is the table's one reader and writer. */
export interface InstrumentRecord {
  symbol: string;
  kind: InstrumentKind;
  model_class_id: string;
  tick_micro_usd_per_mtok: string;
  lot_tokens: string;
  maker_fee_bps: number;
  taker_fee_bps: number;
  collar_bps: number;
  spot_window_seconds: number | null;
  bond_bps: number;
  initial_margin_bps: number | null;
  maintenance_margin_bps: number | null;
  delivery_period: string | null;
  delivery_start: Date | null;
  delivery_end: Date | null;
  last_trade_at: Date | null;
  status: InstrumentStatus;
  halt_reason: string | null;
  halted_at: Date | null;
  created_at: Date;
}

export const INSTRUMENT_COLUMNS = `symbol, kind, model_class_id, tick_micro_usd_per_mtok, lot_tokens, maker_fee_bps, taker_fee_bps,
  collar_bps, spot_window_seconds, bond_bps, initial_margin_bps, maintenance_margin_bps, delivery_period, delivery_start,
  delivery_end, last_trade_at, status, halt_reason, halted_at, created_at`;

/** Inserts an instrument unless its symbol exists: RETURNING gives the row, or nothing if it did. */
export function insertInstrumentQuery(terms: InstrumentTerms): [string, unknown[]] {
  const forward = terms.kind === 'forward' ? terms : undefined;
  return [
    `INSERT INTO instruments (symbol, kind, model_class_id, tick_micro_usd_per_mtok, lot_tokens, maker_fee_bps, taker_fee_bps,
       collar_bps, spot_window_seconds, bond_bps, initial_margin_bps, maintenance_margin_bps, delivery_period, delivery_start,
       delivery_end, last_trade_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
     ON CONFLICT (symbol) DO NOTHING RETURNING ${INSTRUMENT_COLUMNS}`,
    [
      terms.symbol,
      terms.kind,
      terms.modelClassId,
      terms.tickMicroUsdPerMTok,
      terms.lotTokens,
      terms.makerFeeBps,
      terms.takerFeeBps,
      terms.collarBps,
      terms.kind === 'spot' ? terms.spotWindowSeconds : null,
      terms.bondBps,
      forward?.initialMarginBps ?? null,
      forward?.maintenanceMarginBps ?? null,
      forward?.deliveryPeriod ?? null,
      forward?.deliveryStart ?? null,
      forward?.deliveryEnd ?? null,
      forward?.lastTradeAt ?? null,
    ],
  ];
}

/** Tick and lot are at most 10^9 (CHECKed on the way in), so they are safe as numbers. */
export function instrumentSpec(r: InstrumentRecord): InstrumentSpec {
  const base = {
    symbol: r.symbol,
    modelClassId: r.model_class_id,
    tickMicroUsdPerMTok: Number(r.tick_micro_usd_per_mtok),
    lotTokens: Number(r.lot_tokens),
    makerFeeBps: r.maker_fee_bps,
    takerFeeBps: r.taker_fee_bps,
    collarBps: r.collar_bps,
    bondBps: r.bond_bps,
    status: r.status,
  };
  // CHECKs instruments_terms_of_kind and instruments_margin_of_kind guarantee the terms of the row's kind.
  if (r.kind === 'spot') return { ...base, kind: 'spot', spotWindowSeconds: r.spot_window_seconds! };
  return {
    ...base,
    kind: 'forward',
    deliveryPeriod: r.delivery_period!,
    deliveryStart: r.delivery_start!,
    deliveryEnd: r.delivery_end!,
    lastTradeAt: r.last_trade_at!,
    initialMarginBps: r.initial_margin_bps!,
    maintenanceMarginBps: r.maintenance_margin_bps!,
  };
}

/** The public view. Spot's is as it always was; forwards add their margin, days and unit. */
export function instrumentView(r: InstrumentRecord): InstrumentView {
  const view: InstrumentView = {
    symbol: r.symbol,
    kind: r.kind,
    modelClassId: r.model_class_id,
    tickSize: formatTickSize(Number(r.tick_micro_usd_per_mtok)),
    lotSize: Number(r.lot_tokens),
    makerFeeBps: r.maker_fee_bps,
    takerFeeBps: r.taker_fee_bps,
    collarBps: r.collar_bps,
    spotWindowSeconds: r.spot_window_seconds,
    bondBps: r.bond_bps,
    deliveryPeriod: r.delivery_period,
    deliveryStart: r.delivery_start?.toISOString() ?? null,
    deliveryEnd: r.delivery_end?.toISOString() ?? null,
    lastTradeAt: r.last_trade_at?.toISOString() ?? null,
    status: r.status,
    haltReason: r.halt_reason,
    haltedAt: r.halted_at?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
  };
  if (r.kind === 'spot') return view;
  return {
    ...view,
    deliveryDays: deliveryDays({ deliveryStart: r.delivery_start!, deliveryEnd: r.delivery_end! }),
    initialMarginBps: r.initial_margin_bps!,
    maintenanceMarginBps: r.maintenance_margin_bps!,
    quantityUnit: FORWARD_QUANTITY_UNIT,
  };
}
