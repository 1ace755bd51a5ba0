import type { EntityManager } from 'typeorm';
import { slaBreach } from './core/verification.js';

/** A delivery's buyer requests as metering recorded them: how many, how many failed or missed the SLA. */
export interface RequestEvidence {
  readonly total: number;
  readonly bad: number;
  /** More than 1 % of them, and at least 3, were bad (market-rules §5). */
  readonly breach: boolean;
}

/**
 * Breach evidence from the buyer's side, read from the usage records metering verified: the
 * requests the node failed or served out of the model class's SLA. The exchange's own audit
 * requests do not count. Settlement reads this at a window's close, for a batch of deliveries at
 * once (one query), in the order given.
 */
export async function requestEvidence(manager: EntityManager, deliveryIds: readonly string[]): Promise<RequestEvidence[]> {
  const rows: Array<{ delivery_id: string; total: number; bad: number }> = await manager.query(
    `SELECT r.delivery_id, count(*)::int AS total, count(*) FILTER (WHERE status = 'error' OR within_sla = false)::int AS bad
       FROM usage_records r LEFT JOIN delivery_keys k ON k.id = r.key_id
      WHERE r.delivery_id = ANY($1::uuid[]) AND k.kind IS DISTINCT FROM 'audit'
      GROUP BY r.delivery_id`,
    [deliveryIds],
  );
  const byDelivery = new Map(rows.map((r) => [r.delivery_id, r]));
  return deliveryIds.map((id) => {
    const { total, bad } = byDelivery.get(id) ?? { total: 0, bad: 0 };
    return { total, bad, breach: slaBreach(bad, total) };
  });
}

/**
 * The same judgement as a SQL condition on a delivery aliased `d` (for lists that filter on it):
 * more than 1 % of its buyer requests, and at least 3, failed or missed the SLA (slaBreach).
 */
export const REQUEST_BREACH_SQL = `(SELECT count(*) FILTER (WHERE r.status = 'error' OR r.within_sla = false) >= 3
      AND count(*) FILTER (WHERE r.status = 'error' OR r.within_sla = false) * 10000 > count(*) * 100
     FROM usage_records r LEFT JOIN delivery_keys k ON k.id = r.key_id
    WHERE r.delivery_id = d.id AND k.kind IS DISTINCT FROM 'audit')`;
