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
