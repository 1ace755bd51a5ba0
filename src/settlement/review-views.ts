import { formatUsd } from '../common/money.js';
import { type DeliveryRecord, deliveryFigures } from '../deliveries/delivery-record.js';
import type { MarketsService } from '../markets/markets.service.js';
import type { SettlementDeliveryView, SettlementView } from './settlements.dto.js';

/** A `settlements` row as the review reads it (`id::text, tokens::text`). */
export interface SettlementRecordRow {
  id: string;
  key: string;
  kind: SettlementView['kind'];
  delivery_id: string;
  buyer_id: string;
  provider_id: string;
  tokens: string;
  amounts: Record<string, string>;
  transfer_ids: string[];
  status: SettlementView['status'];
  attempts: number;
  error: string | null;
  created_at: Date;
}

export const SETTLEMENT_COLUMNS = `s.id::text, s.key, s.kind, s.delivery_id, s.buyer_id, s.provider_id, s.tokens::text, s.amounts, s.transfer_ids, s.status, s.attempts, s.error, s.created_at`;

export const settlementView = (r: SettlementRecordRow): SettlementView => ({
  id: r.id,
  key: r.key,
  kind: r.kind,
  deliveryId: r.delivery_id,
  buyerId: r.buyer_id,
  providerId: r.provider_id,
  tokens: Number(r.tokens),
  amounts: Object.fromEntries(Object.entries(r.amounts).map(([k, v]) => [k, formatUsd(BigInt(v))])),
  transferIds: r.transfer_ids,
  status: r.status,
  attempts: r.attempts,
  error: r.error,
  createdAt: r.created_at.toISOString(),
});

/** A `deliveries` row (SELECT d.*). */
export type DeliveryRecordRow = DeliveryRecord;

/** A delivery as an admin reads it: the same numbers and formats as `GET /v1/deliveries/:id`. */
export async function deliveryView(markets: MarketsService, r: DeliveryRecordRow): Promise<SettlementDeliveryView> {
  return deliveryFigures(r, await markets.requireInstrument(r.instrument));
}
