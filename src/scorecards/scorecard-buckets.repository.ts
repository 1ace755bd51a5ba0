import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { type BucketAggregate, EMPTY_AGGREGATE, histogramFromJson, histogramToJson, mergeAggregates, mergePerKey } from './core/index.js';

/** A node's bucket: what the fold adds to, and what a window's read returns. */
export interface NodeBucketKey {
  readonly nodeId: string;
  readonly providerId: string;
  readonly modelClassId: string;
  readonly bucketStart: number;
}

export interface ProviderBucketKey {
  readonly providerId: string;
  readonly modelClassId: string;
  readonly bucketStart: number;
}

/** A window's aggregate for one node (its provider's deliveries are read separately). */
export interface NodeWindow {
  readonly nodeId: string;
  readonly providerId: string;
  readonly modelClassId: string;
  readonly aggregate: BucketAggregate;
}

export interface ProviderWindow {
  readonly providerId: string;
  readonly modelClassId: string;
  readonly deliveriesClosed: number;
  readonly deliveriesBreached: number;
}

export interface BucketFilter {
  readonly from: Date;
  readonly to: Date;
  readonly providerId?: string;
  readonly modelClassId?: string;
}

const bucketKey = (k: { nodeId?: string; providerId: string; modelClassId: string; bucketStart: number }) => `${k.nodeId ?? k.providerId}|${k.modelClassId}|${k.bucketStart}`;

/**
 * The scorecards' tables: `scorecard_buckets` (per node, model class and 5 minutes) and
 * `scorecard_provider_buckets` (closed deliveries per provider). Written only by the fold, in its
 * transaction: each add reads the buckets it touches with a row lock, merges in the pure core, and
 * writes them back, so two folds never lose each other's counts.
 */
@Injectable()
export class ScorecardBucketsRepository {
  /** Adds aggregates to node buckets (several for one bucket are merged first). */
  async addToNodeBuckets(manager: EntityManager, deltas: ReadonlyArray<readonly [NodeBucketKey, BucketAggregate]>): Promise<void> {
    const merged = mergePerKey(deltas, ([key]) => bucketKey(key), ([, agg]) => agg);
    if (merged.size === 0) return;
    // Lock in key order, so two folds adding to the same buckets cannot deadlock.
    const ordered = [...new Map(deltas.map(([key]) => [bucketKey(key), key]))].sort(([a], [b]) => (a < b ? -1 : 1));
    const keys = ordered.map(([, key]) => key);
    const existing: BucketRow[] = await manager.query(
      `SELECT ${BUCKET_COLUMNS} FROM scorecard_buckets b
         JOIN unnest($1::uuid[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS k(node_id, model_class_id, bucket_start, n)
           ON b.node_id = k.node_id AND b.model_class_id = k.model_class_id AND b.bucket_start = k.bucket_start
        ORDER BY k.n FOR UPDATE OF b`,
      [keys.map((k) => k.nodeId), keys.map((k) => k.modelClassId), keys.map((k) => new Date(k.bucketStart))],
    );
    const before = new Map(existing.map((r) => [bucketKey({ nodeId: r.node_id, providerId: r.provider_id, modelClassId: r.model_class_id, bucketStart: r.bucket_start.getTime() }), aggregateOf(r)]));
    const rows = ordered.map(([id, k]) => [k, mergeAggregates(before.get(id) ?? EMPTY_AGGREGATE, merged.get(id)!)] as const);
    await manager.query(
      `INSERT INTO scorecard_buckets (node_id, model_class_id, bucket_start, provider_id, requests, failures, sla_misses, output_tokens, verified_tokens, spend_pico,
                                      ttft_ms, latency_ms, tps_milli, probes, probes_ok, disputes_upheld)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::uuid[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::numeric[],
                            $11::jsonb[], $12::jsonb[], $13::jsonb[], $14::bigint[], $15::bigint[], $16::bigint[])
       ON CONFLICT (node_id, model_class_id, bucket_start) DO UPDATE SET
         requests = EXCLUDED.requests, failures = EXCLUDED.failures, sla_misses = EXCLUDED.sla_misses, output_tokens = EXCLUDED.output_tokens,
         verified_tokens = EXCLUDED.verified_tokens, spend_pico = EXCLUDED.spend_pico, ttft_ms = EXCLUDED.ttft_ms, latency_ms = EXCLUDED.latency_ms,
         tps_milli = EXCLUDED.tps_milli, probes = EXCLUDED.probes, probes_ok = EXCLUDED.probes_ok, disputes_upheld = EXCLUDED.disputes_upheld`,
      [
        rows.map(([k]) => k.nodeId),
        rows.map(([k]) => k.modelClassId),
        rows.map(([k]) => new Date(k.bucketStart)),
        rows.map(([k]) => k.providerId),
        rows.map(([, a]) => a.requests),
        rows.map(([, a]) => a.failures),
        rows.map(([, a]) => a.slaMisses),
        rows.map(([, a]) => String(a.outputTokens)),
        rows.map(([, a]) => String(a.verifiedTokens)),
        rows.map(([, a]) => String(a.spendPico)),
        rows.map(([, a]) => JSON.stringify(histogramToJson(a.ttftMs))),
        rows.map(([, a]) => JSON.stringify(histogramToJson(a.latencyMs))),
        rows.map(([, a]) => JSON.stringify(histogramToJson(a.tpsMilli))),
        rows.map(([, a]) => a.probes),
        rows.map(([, a]) => a.probesOk),
        rows.map(([, a]) => a.disputesUpheld),
      ],
    );
  }

  /**
   * Sets the probe counts of node buckets from `from` on to what `node_probes` holds now (a
   * recount, not an add: running it twice, or over a stretch already counted, changes nothing).
   * Probes are read per provider and model class through their index.
   */
  async recountProbes(manager: EntityManager, from: Date): Promise<void> {
    await manager.query(
      `INSERT INTO scorecard_buckets (node_id, model_class_id, bucket_start, provider_id, probes, probes_ok)
       SELECT p.node_id, p.model_class_id, p.bucket, p.provider_id, count(*), count(*) FILTER (WHERE p.ok)
         FROM (SELECT DISTINCT provider_id, model_class_id FROM inference_nodes) n
         CROSS JOIN LATERAL (
           SELECT q.node_id, q.model_class_id, q.provider_id, q.ok,
                  to_timestamp(floor(extract(epoch FROM q.probed_at) / 300) * 300) AS bucket
             FROM node_probes q
            WHERE q.provider_id = n.provider_id AND q.model_class_id = n.model_class_id AND q.probed_at >= $1) p
        GROUP BY p.node_id, p.model_class_id, p.bucket, p.provider_id
       ON CONFLICT (node_id, model_class_id, bucket_start) DO UPDATE SET probes = EXCLUDED.probes, probes_ok = EXCLUDED.probes_ok`,
      [from],
    );
  }

  /** Adds closed deliveries to provider buckets (one row per delivery closed). */
  async addClosedDeliveries(manager: EntityManager, closed: ReadonlyArray<ProviderBucketKey & { readonly breached: boolean }>): Promise<void> {
    if (closed.length === 0) return;
    await manager.query(
      `INSERT INTO scorecard_provider_buckets (provider_id, model_class_id, bucket_start, deliveries_closed, deliveries_breached)
       SELECT provider_id, model_class_id, bucket_start, count(*), count(*) FILTER (WHERE breached)
         FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::boolean[]) AS c(provider_id, model_class_id, bucket_start, breached)
        GROUP BY 1, 2, 3
        ORDER BY 1, 2, 3
       ON CONFLICT (provider_id, model_class_id, bucket_start) DO UPDATE SET
         deliveries_closed = scorecard_provider_buckets.deliveries_closed + EXCLUDED.deliveries_closed,
         deliveries_breached = scorecard_provider_buckets.deliveries_breached + EXCLUDED.deliveries_breached`,
      [closed.map((c) => c.providerId), closed.map((c) => c.modelClassId), closed.map((c) => new Date(c.bucketStart)), closed.map((c) => c.breached)],
    );
  }

  /**
   * The window's aggregate per node: sums in SQL, histograms merged in SQL by value (jsonb_each),
   * so a 30-day read returns one row per node and value, not one per bucket.
   */
  async nodeWindows(manager: EntityManager, f: BucketFilter): Promise<NodeWindow[]> {
    const where = `b.bucket_start >= $1 AND b.bucket_start <= $2 AND ($3::uuid IS NULL OR b.provider_id = $3) AND ($4::text IS NULL OR b.model_class_id = $4)`;
    const params = [f.from, f.to, f.providerId ?? null, f.modelClassId ?? null];
    const sums: SumRow[] = await manager.query(
      `SELECT b.node_id, b.provider_id, b.model_class_id, sum(requests)::text AS requests, sum(failures)::text AS failures, sum(sla_misses)::text AS sla_misses,
              sum(output_tokens)::text AS output_tokens, sum(verified_tokens)::text AS verified_tokens, sum(spend_pico)::text AS spend_pico,
              sum(probes)::text AS probes, sum(probes_ok)::text AS probes_ok, sum(disputes_upheld)::text AS disputes_upheld
         FROM scorecard_buckets b WHERE ${where} GROUP BY 1, 2, 3`,
      params,
    );
    const values: Array<{ node_id: string; model_class_id: string; h: 'ttft_ms' | 'latency_ms' | 'tps_milli'; value: string; count: string }> = await manager.query(
      `SELECT b.node_id, b.model_class_id, e.h, e.value, sum(e.count::bigint)::text AS count
         FROM scorecard_buckets b
         CROSS JOIN LATERAL (SELECT 'ttft_ms' AS h, key AS value, value AS count FROM jsonb_each_text(b.ttft_ms)
                             UNION ALL SELECT 'latency_ms', key, value FROM jsonb_each_text(b.latency_ms)
                             UNION ALL SELECT 'tps_milli', key, value FROM jsonb_each_text(b.tps_milli)) e
        WHERE ${where} GROUP BY 1, 2, 3, 4`,
      params,
    );
    const histograms = new Map<string, Record<string, Record<string, number>>>();
    for (const v of values) {
      const k = `${v.node_id}|${v.model_class_id}`;
      const h = histograms.get(k) ?? { ttft_ms: {}, latency_ms: {}, tps_milli: {} };
      h[v.h][v.value] = Number(v.count);
      histograms.set(k, h);
    }
    return sums.map((s) => {
      const h = histograms.get(`${s.node_id}|${s.model_class_id}`);
      return {
        nodeId: s.node_id,
        providerId: s.provider_id,
        modelClassId: s.model_class_id,
        aggregate: {
          ...EMPTY_AGGREGATE,
          requests: Number(s.requests),
          failures: Number(s.failures),
          slaMisses: Number(s.sla_misses),
          outputTokens: BigInt(s.output_tokens),
          verifiedTokens: BigInt(s.verified_tokens),
          spendPico: BigInt(s.spend_pico),
          ttftMs: histogramFromJson(h?.ttft_ms),
          latencyMs: histogramFromJson(h?.latency_ms),
          tpsMilli: histogramFromJson(h?.tps_milli),
          probes: Number(s.probes),
          probesOk: Number(s.probes_ok),
          disputesUpheld: Number(s.disputes_upheld),
        },
      };
    });
  }

  async providerWindows(manager: EntityManager, f: BucketFilter): Promise<ProviderWindow[]> {
    const rows: Array<{ provider_id: string; model_class_id: string; closed: string; breached: string }> = await manager.query(
      `SELECT provider_id, model_class_id, sum(deliveries_closed)::text AS closed, sum(deliveries_breached)::text AS breached
         FROM scorecard_provider_buckets
        WHERE bucket_start >= $1 AND bucket_start <= $2 AND ($3::uuid IS NULL OR provider_id = $3) AND ($4::text IS NULL OR model_class_id = $4)
        GROUP BY 1, 2`,
      [f.from, f.to, f.providerId ?? null, f.modelClassId ?? null],
    );
    return rows.map((r) => ({ providerId: r.provider_id, modelClassId: r.model_class_id, deliveriesClosed: Number(r.closed), deliveriesBreached: Number(r.breached) }));
  }
}

interface BucketRow {
  node_id: string;
  provider_id: string;
  model_class_id: string;
  bucket_start: Date;
  requests: string;
  failures: string;
  sla_misses: string;
  output_tokens: string;
  verified_tokens: string;
  spend_pico: string;
  ttft_ms: Record<string, number>;
  latency_ms: Record<string, number>;
  tps_milli: Record<string, number>;
  probes: string;
  probes_ok: string;
  disputes_upheld: string;
}

type SumRow = Omit<BucketRow, 'bucket_start' | 'ttft_ms' | 'latency_ms' | 'tps_milli'>;

const BUCKET_COLUMNS = `b.node_id, b.provider_id, b.model_class_id, b.bucket_start, b.requests::text, b.failures::text, b.sla_misses::text, b.output_tokens::text,
  b.verified_tokens::text, b.spend_pico::text, b.ttft_ms, b.latency_ms, b.tps_milli, b.probes::text, b.probes_ok::text, b.disputes_upheld::text`;

function aggregateOf(r: BucketRow): BucketAggregate {
  return {
    ...EMPTY_AGGREGATE,
    requests: Number(r.requests),
    failures: Number(r.failures),
    slaMisses: Number(r.sla_misses),
    outputTokens: BigInt(r.output_tokens),
    verifiedTokens: BigInt(r.verified_tokens),
    spendPico: BigInt(r.spend_pico),
    ttftMs: histogramFromJson(r.ttft_ms),
    latencyMs: histogramFromJson(r.latency_ms),
    tpsMilli: histogramFromJson(r.tps_milli),
    probes: Number(r.probes),
    probesOk: Number(r.probes_ok),
    disputesUpheld: Number(r.disputes_upheld),
  };
}
