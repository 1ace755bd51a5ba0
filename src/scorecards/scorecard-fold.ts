import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { HandlesJob, type JobContext, type JobHandler } from '../platform/jobs/job-handler.js';
import {
  acceptHeld,
  type BucketAggregate,
  bucketStart,
  EMPTY_AGGREGATE,
  requestAggregate,
  upheldAgainstProvider,
} from './core/index.js';
import { type NodeBucketKey, ScorecardBucketsRepository } from './scorecard-buckets.repository.js';

/**
 * How far behind the present each source is read again. A source row is stamped by its
 * transaction's start (`now()`) or numbered when inserted, so one may commit after rows stamped
 * later were already read; reading the last OVERLAP again (and skipping what `scorecard_folds`
 * says was folded) catches it, unless its transaction stayed open longer than this.
 */
export const OVERLAP_MS = 10 * 60_000;
/**
 * How long a row not folded yet (a batch not verified, a close that failed) holds its source's
 * cursor back. After that it no longer does, so one row that never completes cannot make every
 * run read everything since it; it is still folded if it completes while the cursor is behind it.
 */
export const MAX_WAIT_MS = 24 * 3_600_000;
/** Records folded per run, about (whole batches, at least one): a run's transaction stays small. */
export const RECORD_LIMIT = 50_000;
/** Rows folded per source and run; the rest wait for the next run (the job is scheduled). */
export const FOLD_LIMIT = 500;

/** What one run folded, per source. */
export interface FoldReport {
  batches: number;
  requests: number;
  disputes: number;
  closes: number;
}

interface RecordRow {
  node_id: string;
  provider_id: string;
  model_class_id: string;
  started_at: Date;
  finished_at: Date;
  status: 'ok' | 'error';
  within_sla: boolean | null;
  ttft_ms: number;
  completion_tokens: number;
  billable: string;
  reported: string;
  price: string;
  buyer_completion?: number | null;
}

const RECORD_COLUMNS = `r.node_id, d.provider_id, d.model_class_id, r.started_at, r.finished_at, r.status, r.within_sla, r.ttft_ms, r.completion_tokens,
  coalesce(r.billable_tokens, 0)::text AS billable, r.reported_billable::text AS reported, (d.notional_micros * 1000000 / d.quantity_tokens)::text AS price`;

function sampleOf(r: RecordRow, acceptedTokens: bigint, acceptedOutputTokens: bigint): readonly [NodeBucketKey, BucketAggregate] {
  const finishedAt = r.finished_at.getTime();
  return [
    { nodeId: r.node_id, providerId: r.provider_id, modelClassId: r.model_class_id, bucketStart: bucketStart(finishedAt) },
    requestAggregate({
      finishedAt,
      status: r.status,
      withinSla: r.within_sla,
      ttftMs: r.ttft_ms,
      latencyMs: finishedAt - r.started_at.getTime(),
      completionTokens: r.completion_tokens,
      acceptedTokens,
      acceptedOutputTokens,
      priceMicrosPerMTok: BigInt(r.price),
    }),
  ];
}

/**
 * The fold (job `scorecards.fold`, every SCORECARD_FOLD_INTERVAL_MS): a shell that reads what is
 * new since its cursors, lets the core turn it into bucket aggregates, and adds them, all in the
 * job's one transaction with the cursors and the keys it folded. A run that crashes leaves
 * nothing; a run again skips what `scorecard_folds` holds: each source row counts exactly once.
 *
 * Sources (docs/scorecards.md):
 * - verified batches (`usage_batches` by `received_at`, the index metering keeps): their records
 *   verified without dispute. The cursor stays at the oldest batch not verified yet.
 * - dispute resolutions (`audit_events` `dispute.resolve`, by id): the records the dispute held,
 *   with what the resolution accepted of them, and whether it was upheld against the provider.
 * - window closes (`settlements` of kind `close`, by id): closed deliveries and breaches.
 * - probes (`node_probes`): the buckets of the last OVERLAP are counted again, not added to.
 */
@Injectable()
@HandlesJob('scorecards.fold')
export class ScorecardFoldJob implements JobHandler<'scorecards.fold'> {
  private readonly logger = new Logger(ScorecardFoldJob.name);

  constructor(private readonly buckets: ScorecardBucketsRepository) {}

  async handle(payload: { reason: string }, { manager }: JobContext): Promise<void> {
    const report = await this.fold(manager);
    this.logger.debug({ reason: payload.reason, ...report }, 'scorecards folded');
  }

  /** One run, in the caller's transaction; the cursors' row locks make concurrent runs take turns. */
  async fold(manager: EntityManager, limit = FOLD_LIMIT): Promise<FoldReport> {
    const [{ now }]: Array<{ now: Date }> = await manager.query(`SELECT now() AS now`);
    const cursors = await this.lockCursors(manager, now);
    const report: FoldReport = { batches: 0, requests: 0, disputes: 0, closes: 0 };
    const deltas: Array<readonly [NodeBucketKey, BucketAggregate]> = [];

    await this.foldBatches(manager, now, cursors, deltas, report, limit);
    await this.foldDisputes(manager, now, cursors, deltas, report, limit);
    await this.buckets.addToNodeBuckets(manager, deltas);
    await this.foldCloses(manager, now, cursors, report, limit);
    // Probes: count the buckets since the cursor again (late probe rows included), then move it.
    const probesFrom = Math.min(Number(cursors.get('probes')), now.getTime() - OVERLAP_MS);
    await this.buckets.recountProbes(manager, new Date(bucketStart(probesFrom)));
    await this.saveCursor(manager, 'probes', String(now.getTime() - OVERLAP_MS));
    // Keys behind their cursor are never read again.
    const [batchCursor, disputeCursor, closeCursor]: string[] = (
      await manager.query(`SELECT position FROM scorecard_cursors WHERE source = ANY($1::text[]) ORDER BY array_position($1::text[], source)`, [['batch', 'dispute', 'close']])
    ).map((r: { position: string }) => r.position);
    await manager.query(`DELETE FROM scorecard_folds WHERE source = 'batch' AND ref_at < $1`, [new Date(Number(batchCursor))]);
    // Their keys are ids (CASE: the cast must never meet a batch's key).
    await manager.query(
      `DELETE FROM scorecard_folds WHERE source IN ('dispute', 'close')
          AND CASE source WHEN 'dispute' THEN key::bigint <= $1::bigint WHEN 'close' THEN key::bigint <= $2::bigint END`,
      [disputeCursor, closeCursor],
    );
    return report;
  }

  private async lockCursors(manager: EntityManager, now: Date): Promise<Map<string, string>> {
    const start = String(now.getTime() - OVERLAP_MS);
    await manager.query(
      `INSERT INTO scorecard_cursors (source, position) VALUES ('batch', '0'), ('dispute', '0'), ('close', '0'), ('probes', $1) ON CONFLICT (source) DO NOTHING`,
      [start],
    );
    const rows: Array<{ source: string; position: string }> = await manager.query(`SELECT source, position FROM scorecard_cursors ORDER BY source FOR UPDATE`);
    return new Map(rows.map((r) => [r.source, r.position]));
  }

  private saveCursor(manager: EntityManager, source: string, position: string): Promise<unknown> {
    return manager.query(`UPDATE scorecard_cursors SET position = $2, updated_at = now() WHERE source = $1`, [source, position]);
  }

  private async markFolded(manager: EntityManager, source: string, keys: readonly string[], refs: readonly Date[]): Promise<void> {
    if (keys.length === 0) return;
    await manager.query(`INSERT INTO scorecard_folds (source, key, ref_at) SELECT $1, k, r FROM unnest($2::text[], $3::timestamptz[]) AS u(k, r)`, [source, keys, refs]);
  }

  /** Verified batches received since the cursor and not folded: their verified records. */
  private async foldBatches(manager: EntityManager, now: Date, cursors: Map<string, string>, deltas: Array<readonly [NodeBucketKey, BucketAggregate]>, report: FoldReport, limit: number) {
    const cursor = new Date(Number(cursors.get('batch')));
    // The oldest batches not folded, up to the run's limit and about RECORD_LIMIT records (at least one batch).
    const candidates: Array<{ node_id: string; batch_id: string; received_at: Date; before: string }> = await manager.query(
      `WITH c AS (
         SELECT b.node_id, b.batch_id, b.received_at, b.record_count FROM usage_batches b
          WHERE b.received_at >= $1 AND b.status = 'verified'
            AND NOT EXISTS (SELECT 1 FROM scorecard_folds f WHERE f.source = 'batch' AND f.key = b.node_id::text || ':' || b.batch_id)
          ORDER BY b.received_at, b.node_id, b.batch_id LIMIT $2)
       SELECT node_id, batch_id, received_at, (sum(record_count) OVER (ORDER BY received_at, node_id, batch_id) - record_count)::text AS before FROM c
        ORDER BY received_at, node_id, batch_id`,
      [cursor, limit],
    );
    const batches = candidates.filter((b, i) => i === 0 || Number(b.before) < RECORD_LIMIT);
    if (batches.length > 0) {
      // Verified records, and the failures the node itself reported (verification rejects them: nothing to pay).
      const records: RecordRow[] = await manager.query(
        `SELECT ${RECORD_COLUMNS}
           FROM unnest($1::uuid[], $2::text[]) AS k(node_id, batch_id)
           JOIN usage_batches ub ON ub.node_id = k.node_id AND ub.batch_id = k.batch_id
           CROSS JOIN LATERAL jsonb_array_elements_text(ub.answer -> 'accepted') AS a(request_id)
           JOIN usage_records r ON r.node_id = k.node_id AND r.request_id = a.request_id AND r.batch_id = k.batch_id
           JOIN deliveries d ON d.id = r.delivery_id
          WHERE r.verdict = 'verified' OR (r.verdict = 'rejected' AND r.status = 'error')`,
        [batches.map((b) => b.node_id), batches.map((b) => b.batch_id)],
      );
      for (const r of records) deltas.push(sampleOf(r, BigInt(r.billable), BigInt(r.completion_tokens)));
      await this.markFolded(manager, 'batch', batches.map((b) => `${b.node_id}:${b.batch_id}`), batches.map((b) => b.received_at));
      report.batches = batches.length;
      report.requests += records.length;
    }
    // The cursor moves up to the oldest batch not folded yet (not verified, or beyond this run's
    // limit; this run's own are marked already), and never into the overlap. One statement: one snapshot.
    const [{ waiting }]: Array<{ waiting: Date | null }> = await manager.query(
      `SELECT min(b.received_at) AS waiting FROM usage_batches b
        WHERE b.received_at >= $1 AND b.received_at >= $2
          AND NOT EXISTS (SELECT 1 FROM scorecard_folds f WHERE f.source = 'batch' AND f.key = b.node_id::text || ':' || b.batch_id)`,
      [cursor, new Date(now.getTime() - MAX_WAIT_MS)],
    );
    let next = now.getTime() - OVERLAP_MS;
    if (waiting) next = Math.min(next, waiting.getTime());
    // A run that stopped at its limit (a first run over history) goes on from there, however old.
    if (batches.length > 0 && (candidates.length === limit || batches.length < candidates.length)) next = Math.min(next, batches[batches.length - 1].received_at.getTime());
    await this.saveCursor(manager, 'batch', String(Math.max(next, cursor.getTime())));
  }

  /** Disputes resolved since the cursor: the records they held, what was accepted of them, and whether upheld. */
  private async foldDisputes(manager: EntityManager, now: Date, cursors: Map<string, string>, deltas: Array<readonly [NodeBucketKey, BucketAggregate]>, report: FoldReport, limit: number) {
    const cursor = cursors.get('dispute')!;
    const resolved: Array<{
      event_id: string;
      event_at: Date;
      id: string;
      key: string;
      node_id: string;
      provider_id: string;
      delivery_id: string;
      kind: string;
      tokens: string;
      provider_tokens: string | null;
      resolution: 'provider' | 'buyer' | 'split';
      request_id: string | null;
      batch_id: string | null;
      created_at: Date;
      model_class_id: string;
      price: string;
    }> = await manager.query(
      `SELECT e.id::text AS event_id, e.created_at AS event_at, d.id, d.key, d.node_id, d.provider_id, d.delivery_id, d.kind, d.tokens::text, d.provider_tokens::text,
              d.resolution, d.evidence ->> 'requestId' AS request_id, d.evidence ->> 'batchId' AS batch_id, d.created_at, dl.model_class_id,
              (dl.notional_micros * 1000000 / dl.quantity_tokens)::text AS price
         FROM audit_events e
         JOIN disputes d ON d.id::text = e.subject_id AND d.status = 'resolved'
         JOIN deliveries dl ON dl.id = d.delivery_id
        WHERE e.id > $1::bigint AND e.action = 'dispute.resolve' AND e.subject_type = 'dispute'
          AND NOT EXISTS (SELECT 1 FROM scorecard_folds f WHERE f.source = 'dispute' AND f.key = e.id::text)
        ORDER BY e.id LIMIT $2`,
      [cursor, limit],
    );
    for (const d of resolved) {
      const tokens = BigInt(d.tokens);
      const providerTokens = d.resolution === 'provider' ? tokens : d.resolution === 'split' ? BigInt(d.provider_tokens ?? '0') : 0n;
      // The records the dispute held: one for a record's dispute, the batch's records of the delivery for a batch's.
      const held: RecordRow[] = d.key.startsWith('record:')
        ? await manager.query(
            `SELECT ${RECORD_COLUMNS}, b.completion_tokens AS buyer_completion FROM usage_records r JOIN deliveries d ON d.id = r.delivery_id
               LEFT JOIN buyer_reports b ON b.delivery_id = r.delivery_id AND b.request_id = r.request_id
              WHERE r.node_id = $1 AND r.request_id = $2 AND r.verdict = 'disputed' AND $3 = ANY(r.flags)`,
            [d.node_id, d.request_id, d.kind],
          )
        : d.key.startsWith('batch:') && d.batch_id
          ? await manager.query(
              `SELECT ${RECORD_COLUMNS}, b.completion_tokens AS buyer_completion FROM usage_records r JOIN deliveries d ON d.id = r.delivery_id
                 LEFT JOIN buyer_reports b ON b.delivery_id = r.delivery_id AND b.request_id = r.request_id
                WHERE r.delivery_id = $1 AND r.node_id = $2 AND r.batch_id = $3 AND r.verdict = 'disputed' AND $4 = ANY(r.flags)
                ORDER BY r.started_at, r.request_id`,
              [d.delivery_id, d.node_id, d.batch_id, d.kind],
            )
          : [];
      const accepted = acceptHeld(
        held.map((r) => ({ reportedBillable: BigInt(r.reported), billable: BigInt(r.billable), completionTokens: r.completion_tokens, countedCompletion: r.buyer_completion })),
        providerTokens,
      );
      held.forEach((r, i) => {
        // A request of which nothing was accepted was not a delivery: no timings from it.
        if (accepted[i].acceptedTokens > 0n || r.status === 'error') deltas.push(sampleOf(r, accepted[i].acceptedTokens, accepted[i].acceptedOutputTokens));
      });
      const handed = accepted.reduce((s, a, i) => s + a.acceptedTokens - BigInt(held[i].billable), 0n);
      const key: NodeBucketKey = { nodeId: d.node_id, providerId: d.provider_id, modelClassId: d.model_class_id, bucketStart: bucketStart(d.created_at.getTime()) };
      const rest = providerTokens - handed; // tokens the provider was given that no held record reported (none, normally)
      const upheld = upheldAgainstProvider(d.resolution, tokens, d.provider_tokens === null ? null : BigInt(d.provider_tokens));
      if (rest > 0n || upheld) {
        const extra = rest > 0n ? rest : 0n;
        deltas.push([key, { ...EMPTY_AGGREGATE, verifiedTokens: extra, spendPico: extra * BigInt(d.price), disputesUpheld: upheld ? 1 : 0 }]);
      }
    }
    await this.markFolded(manager, 'dispute', resolved.map((d) => d.event_id), resolved.map((d) => d.event_at));
    report.disputes = resolved.length;
    await this.saveCursor(manager, 'dispute', await this.idCursor(manager, now, 'dispute', cursor, resolved.length === limit ? resolved[resolved.length - 1].event_id : null));
  }

  /** Deliveries closed since the cursor (their `close` settlement), in the bucket of when they closed. */
  private async foldCloses(manager: EntityManager, now: Date, cursors: Map<string, string>, report: FoldReport, limit: number) {
    const cursor = cursors.get('close')!;
    const closed: Array<{ id: string; created_at: Date; delivery_id: string; provider_id: string; model_class_id: string; closed_at: Date; outcome: string }> = await manager.query(
      `SELECT s.id::text, s.created_at, d.id AS delivery_id, d.provider_id, d.model_class_id, d.closed_at, d.outcome
         FROM settlements s JOIN deliveries d ON d.id = s.delivery_id AND d.status = 'closed'
        WHERE s.kind = 'close' AND s.status = 'done' AND s.id > $1::bigint
          AND NOT EXISTS (SELECT 1 FROM scorecard_folds f WHERE f.source = 'close' AND f.key = s.id::text)
        ORDER BY s.id LIMIT $2`,
      [cursor, limit],
    );
    await this.buckets.addClosedDeliveries(
      manager,
      closed.map((c) => ({ providerId: c.provider_id, modelClassId: c.model_class_id, bucketStart: bucketStart(c.closed_at.getTime()), breached: c.outcome === 'breach' })),
    );
    await this.markFolded(manager, 'close', closed.map((c) => c.id), closed.map((c) => c.created_at));
    report.closes = closed.length;
    await this.saveCursor(manager, 'close', await this.idCursor(manager, now, 'close', cursor, closed.length === limit ? closed[closed.length - 1].id : null));
  }

  /**
   * An id cursor moves up to the first row not folded yet (beyond this run's limit, a close not
   * done yet) or still in the overlap, and otherwise to the last row: in one statement, so one
   * snapshot. A row not folded for MAX_WAIT_MS stops holding it back; a run that stopped at its
   * limit goes on from the last row it read.
   */
  private async idCursor(manager: EntityManager, now: Date, source: 'dispute' | 'close', cursor: string, limitedAt: string | null): Promise<string> {
    const [table, where] = source === 'dispute' ? ['audit_events', `action = 'dispute.resolve'`] : ['settlements', `kind = 'close'`];
    const [{ stop, last }]: Array<{ stop: string | null; last: string | null }> = await manager.query(
      `SELECT (SELECT min(t.id) FROM ${table} t WHERE t.id > $1::bigint AND ${where} AND t.created_at >= $4
                 AND (t.created_at >= $2 OR NOT EXISTS (SELECT 1 FROM scorecard_folds f WHERE f.source = $3 AND f.key = t.id::text)))::text AS stop,
              (SELECT max(t.id) FROM ${table} t WHERE t.id > $1::bigint AND ${where})::text AS last`,
      [cursor, new Date(now.getTime() - OVERLAP_MS), source, new Date(now.getTime() - MAX_WAIT_MS)],
    );
    let next = stop !== null ? BigInt(stop) - 1n : BigInt(last ?? cursor);
    if (limitedAt !== null && BigInt(limitedAt) < next) next = BigInt(limitedAt);
    return String(next > BigInt(cursor) ? next : BigInt(cursor));
  }
}
