import type { EntityManager } from 'typeorm';
import { slaBreach } from './core/verification.js';

/** The exchange's audits of a provider's nodes of one model class over a window (those still in flight are not counted). */
export interface AuditEvidence {
  readonly total: number;
  /** Refused, failed, or answered with nothing to re-count. */
  readonly failed: number;
  /** More than 1 % of them, and at least 3, failed (the rule for buyers' requests, slaBreach). */
  readonly breach: boolean;
}

/**
 * Breach evidence from the exchange's own audits (market-rules §7: an audit the node refuses,
 * fails or answers in a way that cannot be re-counted is evidence against it, like a failed
 * probe). Judged over the provider's nodes of the model class, as probes are: a buyer is served by
 * whichever of them it reaches. Settlement reads this at a window's close.
 */
export async function auditEvidence(manager: EntityManager, providerId: string, modelClassId: string, windowStart: Date, windowEnd: Date): Promise<AuditEvidence> {
  const [audits]: Array<{ total: number; failed: number }> = await manager.query(
    `SELECT count(*)::int AS total, count(*) FILTER (WHERE NOT a.ok)::int AS failed
       FROM inference_nodes n JOIN node_audits a ON a.node_id = n.id
      WHERE n.provider_id = $1 AND n.model_class_id = $2 AND a.created_at >= $3 AND a.created_at < $4 AND a.ok IS NOT NULL`,
    [providerId, modelClassId, windowStart, windowEnd],
  );
  return { total: audits.total, failed: audits.failed, breach: slaBreach(audits.failed, audits.total) };
}

/** The same judgement as a SQL condition on a delivery aliased `d`, over its window until `until` (a SQL expression). */
export const auditBreachSql = (until: string) => `(SELECT count(*) FILTER (WHERE NOT a.ok) >= 3 AND count(*) FILTER (WHERE NOT a.ok) * 10000 > count(*) * 100
     FROM inference_nodes n JOIN node_audits a ON a.node_id = n.id
    WHERE n.provider_id = d.provider_id AND n.model_class_id = d.model_class_id AND a.created_at >= d.window_start AND a.created_at < LEAST(d.window_end, ${until})
      AND a.ok IS NOT NULL)`;
