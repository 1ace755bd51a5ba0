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

/** Whose audits, over which window: a provider's nodes of one model class. */
export interface AuditSubject {
  readonly providerId: string;
  readonly modelClassId: string;
  readonly windowStart: Date;
  readonly windowEnd: Date;
}

/**
 * Breach evidence from the exchange's own audits (market-rules §7: an audit the node refuses,
 * fails or answers in a way that cannot be re-counted is evidence against it, like a failed
 * probe). Judged over the provider's nodes of the model class, as probes are: a buyer is served by
 * whichever of them it reaches. Settlement reads this at a window's close, for a batch of windows
 * at once (one query), in the order given.
 */
export async function auditEvidence(manager: EntityManager, subjects: readonly AuditSubject[]): Promise<AuditEvidence[]> {
  if (subjects.length === 0) return [];
  const rows: Array<{ i: string; total: number; failed: number }> = await manager.query(
    `SELECT s.i::text, count(a.node_id)::int AS total, count(a.node_id) FILTER (WHERE NOT a.ok)::int AS failed
       FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[]) WITH ORDINALITY AS s(provider_id, model_class_id, window_start, window_end, i)
       JOIN inference_nodes n ON n.provider_id = s.provider_id AND n.model_class_id = s.model_class_id
       JOIN node_audits a ON a.node_id = n.id AND a.created_at >= s.window_start AND a.created_at < s.window_end AND a.ok IS NOT NULL
      GROUP BY s.i`,
    [subjects.map((s) => s.providerId), subjects.map((s) => s.modelClassId), subjects.map((s) => s.windowStart), subjects.map((s) => s.windowEnd)],
  );
  const byIndex = new Map(rows.map((r) => [Number(r.i) - 1, r]));
  return subjects.map((_, i) => {
    const { total, failed } = byIndex.get(i) ?? { total: 0, failed: 0 };
    return { total, failed, breach: slaBreach(failed, total) };
  });
}

/** The same judgement as a SQL condition on a delivery aliased `d`, over its window until `until` (a SQL expression). */
export const auditBreachSql = (until: string) => `(SELECT count(*) FILTER (WHERE NOT a.ok) >= 3 AND count(*) FILTER (WHERE NOT a.ok) * 10000 > count(*) * 100
     FROM inference_nodes n JOIN node_audits a ON a.node_id = n.id
    WHERE n.provider_id = d.provider_id AND n.model_class_id = d.model_class_id AND a.created_at >= d.window_start AND a.created_at < LEAST(d.window_end, ${until})
      AND a.ok IS NOT NULL)`;
