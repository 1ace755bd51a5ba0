import { formatUsd } from '../common/money.js';
import { formatPrice, type PriceGrid } from '../markets/price.js';
import type { DeliveryOutcome, DeliveryStatus } from './delivery.entity.js';

/** A `deliveries` row as `SELECT d.*` returns it (bigints as strings), for the read paths. */
export interface DeliveryRecord {
  id: string;
  fill_id: string;
  instrument: string;
  model_class_id: string;
  buyer_id: string;
  provider_id: string;
  quantity_tokens: string;
  price_ticks: string;
  notional_micros: string;
  delivered_tokens: string;
  paid_tokens: string;
  disputed_tokens: string;
  refunded_tokens: string;
  paid_micros: string;
  fee_paid_micros: string;
  refunded_micros: string;
  penalty_micros: string;
  window_start: Date;
  window_end: Date;
  status: DeliveryStatus;
  outcome: DeliveryOutcome | null;
  closed_at: Date | null;
  created_at: Date;
  /** Set by the list queries that page by it. */
  cursor_at?: string;
}

/**
 * The figures every view of a delivery shows, formatted as the API gives them (the participant's
 * `GET /v1/deliveries/:id` and the admin's review add their own fields to these).
 */
export function deliveryFigures(r: DeliveryRecord, grid: PriceGrid) {
  const out = BigInt(r.paid_micros) + BigInt(r.fee_paid_micros) + BigInt(r.refunded_micros);
  return {
    id: r.id,
    instrument: r.instrument,
    modelClass: r.model_class_id,
    buyerId: r.buyer_id,
    providerId: r.provider_id,
    price: formatPrice(Number(r.price_ticks), grid),
    ordered: Number(r.quantity_tokens),
    delivered: Number(r.delivered_tokens),
    paid: Number(r.paid_tokens),
    disputed: Number(r.disputed_tokens),
    notional: formatUsd(BigInt(r.notional_micros)),
    escrow: formatUsd(BigInt(r.notional_micros) - out),
    providerPaid: formatUsd(BigInt(r.paid_micros)),
    refunded: formatUsd(BigInt(r.refunded_micros)),
    penalty: formatUsd(BigInt(r.penalty_micros)),
    windowStart: r.window_start.toISOString(),
    windowEnd: r.window_end.toISOString(),
    status: r.status,
    outcome: r.outcome,
    closedAt: r.closed_at?.toISOString() ?? null,
  };
}
