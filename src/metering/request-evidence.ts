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
 * requests do not count. Settlement reads this at a window's close.
 */
export async function requestEvidence(manager: EntityManager, deliveryId: string): Promise<RequestEvidence> {
  const [requests]: Array<{ total: number; bad: number }> = await manager.query(
    `SELECT count(*)::int AS total, count(*) FILTER (WHERE status = 'error' OR within_sla = false)::int AS bad
       FROM usage_records r LEFT JOIN delivery_keys k ON k.id = r.key_id
      WHERE r.delivery_id = $1 AND k.kind IS DISTINCT FROM 'audit'`,
    [deliveryId],
  );
  return { total: requests.total, bad: requests.bad, breach: slaBreach(requests.bad, requests.total) };
}
