import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { PROBE_FRESH_INTERVALS, probeEvidence, type ProbeSample, type ProbeVerdict } from './probe-evidence.js';

/** Whose probes, over which window: a provider's nodes of one model class. */
export interface ProbeSubject {
  readonly providerId: string;
  readonly modelClassId: string;
  readonly windowStart: Date;
  readonly windowEnd: Date;
}

/** One probe's answer, as stored. */
export interface NodeProbeResult {
  readonly nodeId: string;
  readonly providerId: string;
  readonly modelClassId: string;
  /** When the probe was sent. */
  readonly probedAt: Date;
  /** HTTP 2xx within the timeout. */
  readonly ok: boolean;
  readonly statusCode: number | null;
  readonly latencyMs: number | null;
  readonly error: string | null;
}

/**
 * `node_probes`: the prober writes every answer; whoever needs breach evidence (settlement, at a
 * window's close) reads it here, as a verdict over the stored records, without the prober.
 */
@Injectable()
export class NodeProbesRepository {
  /** Stores a round's results; unnest: one INSERT for any number of rows, no limit on bind parameters. */
  async insert(manager: EntityManager, results: readonly NodeProbeResult[]): Promise<void> {
    if (results.length === 0) return;
    await manager.query(
      `INSERT INTO node_probes (node_id, provider_id, model_class_id, probed_at, ok, status_code, latency_ms, error)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::boolean[], $6::integer[], $7::integer[], $8::text[])`,
      [
        results.map((r) => r.nodeId),
        results.map((r) => r.providerId),
        results.map((r) => r.modelClassId),
        results.map((r) => r.probedAt.toISOString()),
        results.map((r) => r.ok),
        results.map((r) => r.statusCode),
        results.map((r) => r.latencyMs),
        results.map((r) => r.error),
      ],
    );
  }

  /** The stored probes of a provider's nodes of one model class in [from, to), newest first, at most `limit`. */
  async probesBetween(manager: EntityManager, providerId: string, modelClassId: string, from: Date, to: Date, limit: number): Promise<NodeProbeResult[]> {
    const rows: Array<{ node_id: string; probed_at: Date; ok: boolean; status_code: number | null; latency_ms: number | null; error: string | null }> = await manager.query(
      `SELECT node_id, probed_at, ok, status_code, latency_ms, error FROM node_probes
        WHERE provider_id = $1 AND model_class_id = $2 AND probed_at >= $3 AND probed_at < $4
        ORDER BY probed_at DESC, id DESC LIMIT $5`,
      [providerId, modelClassId, from, to, limit],
    );
    return rows.map((r) => ({
      nodeId: r.node_id,
      providerId,
      modelClassId,
      probedAt: r.probed_at,
      ok: r.ok,
      statusCode: r.status_code,
      latencyMs: r.latency_ms,
      error: r.error,
    }));
  }

  /**
   * A SQL condition on a delivery aliased `d`: its provider is down now by the rule of
   * probe-evidence.ts (some node has a fresh probe, and no node's latest fresh probe was ok).
   * `freshSince` names the parameter holding the time a probe stays fresh from (now − 2 intervals).
   */
  downNowSql(freshSince: string): string {
    const fresh = `p.provider_id = d.provider_id AND p.model_class_id = d.model_class_id AND p.probed_at >= ${freshSince}`;
    return `(EXISTS (SELECT 1 FROM node_probes p WHERE ${fresh})
      AND NOT EXISTS (SELECT 1 FROM (SELECT DISTINCT ON (p.node_id) p.ok FROM node_probes p WHERE ${fresh} ORDER BY p.node_id, p.probed_at DESC, p.ok DESC) latest WHERE latest.ok))`;
  }

  /**
   * The breach verdicts for providers' nodes of one model class each, over [windowStart,
   * windowEnd), from the stored probes (probe-evidence.ts decides), in the order given: one query
   * for them all. Probes from up to two intervals before a window are read too: they cover its
   * first instants.
   */
  async verdicts(manager: EntityManager, subjects: readonly ProbeSubject[], probeIntervalMs: number): Promise<ProbeVerdict[]> {
    if (subjects.length === 0) return [];
    const lead = PROBE_FRESH_INTERVALS * probeIntervalMs;
    const from = Math.min(...subjects.map((s) => s.windowStart.getTime())) - lead;
    const until = Math.max(...subjects.map((s) => s.windowEnd.getTime()));
    const pairs = [...new Map(subjects.map((s) => [`${s.providerId}/${s.modelClassId}`, s])).values()];
    const rows: Array<{ provider_id: string; model_class_id: string; node_id: string; probed_at: Date; ok: boolean }> = await manager.query(
      `SELECT p.provider_id, p.model_class_id, p.node_id, p.probed_at, p.ok
         FROM node_probes p JOIN unnest($1::uuid[], $2::text[]) AS s(provider_id, model_class_id) ON p.provider_id = s.provider_id AND p.model_class_id = s.model_class_id
        WHERE p.probed_at >= $3 AND p.probed_at < $4`,
      [pairs.map((s) => s.providerId), pairs.map((s) => s.modelClassId), new Date(from), new Date(until)],
    );
    const samples = new Map<string, ProbeSample[]>();
    for (const r of rows) {
      const key = `${r.provider_id}/${r.model_class_id}`;
      const sample = { nodeId: r.node_id, at: r.probed_at.getTime(), ok: r.ok };
      const list = samples.get(key);
      if (list) list.push(sample);
      else samples.set(key, [sample]);
    }
    return subjects.map((s) => {
      const windowStart = s.windowStart.getTime();
      const windowEnd = s.windowEnd.getTime();
      const own = (samples.get(`${s.providerId}/${s.modelClassId}`) ?? []).filter((p) => p.at >= windowStart - lead && p.at < windowEnd);
      return probeEvidence({ windowStart, windowEnd, probeIntervalMs, samples: own });
    });
  }
}
