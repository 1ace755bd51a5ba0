import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { HandlesJob, type JobContext, type JobHandler } from '../platform/jobs/job-handler.js';
import { Outbox } from '../platform/jobs/outbox.js';
import { usagePerDelivery } from './core/batch-usage.js';
import { type CounterReading, reconcile, type ReconciliationState, startReconciliation } from './core/reconciliation.js';
import type { DeliveryFacts, ModelClassFacts, NodeFacts } from './core/verification.js';
import { type BatchRecordFacts, type CounterFacts, lateBuyerReportDisputes, NODE_REVIEW_KINDS, verifyBatch } from './core/verify-batch.js';
import { BATCH_RECORDS } from './metering.entities.js';
import { DisputesRepository } from './disputes.repository.js';
import { LAST_AUDIT, requestsSinceLastAudit } from './node-audits.js';
import { VerifiedUsageRepository } from './verified-usage.repository.js';

/** A record with what the exchange knows of it; its node's and deliveries' facts are read once a batch (`batchFacts`). */
interface RecordRow {
  request_id: string;
  delivery_id: string;
  prompt_tokens: number;
  completion_tokens: number;
  started_at: Date;
  finished_at: Date;
  ttft_ms: number;
  status: 'ok' | 'error';
  key_kind: 'buyer' | 'audit' | null;
  // what the exchange knows independently
  buyer_prompt: number | null;
  buyer_completion: number | null;
  audit_completion: number | null;
  audit_answered_completion: number | null;
  audited: boolean;
}

/**
 * Verifies each usage batch once it is stored (job `metering.verify-batch`, from the outbox row
 * written with the batch), and buyers' late reports (`metering.check-buyer-reports`). A shell: it
 * reads the facts (each record with its delivery, node, model class, buyer report and audit, and
 * the node's counters over the batch's span), lets the pure `verifyBatch` (core/verify-batch.ts)
 * decide, and writes the verdicts, the verified usage (for settlement's payouts) and the disputes,
 * all in the job's transaction.
 */
@Injectable()
@HandlesJob('metering.verify-batch')
export class VerifyBatchJob implements JobHandler<'metering.verify-batch'> {
  private readonly logger = new Logger(VerifyBatchJob.name);

  constructor(
    private readonly usage: VerifiedUsageRepository,
    private readonly disputes: DisputesRepository,
    private readonly outbox: Outbox,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async handle(payload: { nodeId: string; batchId: string }, { manager }: JobContext): Promise<void> {
    const [batch] = await manager.query(`SELECT node_id, status FROM usage_batches WHERE node_id = $1 AND batch_id = $2 FOR UPDATE`, [payload.nodeId, payload.batchId]);
    if (!batch || batch.status === 'verified') return;
    const records = await batchFacts(manager, payload.nodeId, payload.batchId);
    const counters = await this.counterFacts(manager, batch.node_id, payload.batchId, records);
    const [{ under_review: underReview }] = await manager.query(
      `SELECT EXISTS (SELECT 1 FROM disputes WHERE node_id = $1 AND status = 'open' AND kind = ANY($2::text[])) AS under_review`,
      [batch.node_id, NODE_REVIEW_KINDS],
    );
    const verdict = verifyBatch({ nodeId: batch.node_id, batchId: payload.batchId, records, counters, underReview });

    // A HOT update (no indexed column changes; the table's fillfactor leaves room on the page).
    await manager.query(
      `UPDATE usage_records r SET verdict = v.verdict, billable_tokens = v.billable, within_sla = v.within_sla,
              flags = CASE WHEN v.flags = '[]' THEN '{}'::text[] ELSE ARRAY(SELECT jsonb_array_elements_text(v.flags)) END
         FROM unnest($2::text[], $3::text[], $4::bigint[], $5::boolean[], $6::jsonb[]) AS v(request_id, verdict, billable, within_sla, flags)
        WHERE r.node_id = $1 AND r.request_id = v.request_id`,
      [
        batch.node_id,
        verdict.records.map((v) => v.requestId),
        verdict.records.map((v) => v.verdict),
        verdict.records.map((v) => String(v.billable)),
        verdict.records.map((v) => v.withinSla),
        verdict.records.map((v) => JSON.stringify(v.flags)),
      ],
    );
    await this.disputes.open(manager, verdict.disputes);
    await manager.query(`UPDATE usage_batches SET status = 'verified', verified_at = now() WHERE node_id = $1 AND batch_id = $2`, [payload.nodeId, payload.batchId]);
    if (verdict.disputes.length > 0) this.logger.warn({ batch: payload.batchId, disputes: verdict.disputes.map((d) => d.kind) }, 'usage disputed');
    await this.auditIfDue(manager, batch.node_id);
    // Verified tokens, for settlement's payouts: one row per delivery of the batch, in one statement. Last: it
    // locks the deliveries' rows, which payouts and other batches' verification update too, until the commit.
    await this.usage.recordAll(usagePerDelivery(batch.node_id, payload.batchId, verdict.usage), manager);
  }

  /**
   * A node that has reported `METERING_AUDIT_EVERY_REQUESTS` requests since its last audit is
   * audited now (job `metering.audit-nodes` through the outbox, once per last audit), not at the
   * audit job's next tick: a busy node is audited as often as its traffic.
   */
  private async auditIfDue(manager: EntityManager, nodeId: string): Promise<void> {
    const every = this.config.metering.auditEveryRequests;
    if (every <= 0) return;
    const [due]: Array<{ since: Date; requests: number }> = await manager.query(
      `SELECT last.at AS since, ${requestsSinceLastAudit('$2')} AS requests FROM inference_nodes n ${LAST_AUDIT} WHERE n.id = $1`,
      [nodeId, every],
    );
    if (due && due.requests >= every) await this.outbox.add(manager, 'metering.audit-nodes', `requests:${nodeId}:${due.since.toISOString()}`, { reason: 'requests' });
  }

  /**
   * The node's cumulative reconciliation with its counters (core/reconciliation.ts), moved by this
   * batch to the latest sample taken before its first request finished, and saved in the job's
   * transaction (the row lock makes one node's batches take turns). Undefined when there is
   * nothing to compare with: the node was never scraped, or had no sample before its first
   * reconciled batch began.
   */
  private async counterFacts(manager: EntityManager, nodeId: string, batchId: string, records: readonly BatchRecordFacts[]): Promise<CounterFacts | undefined> {
    if (records.length === 0) return undefined;
    const batch = records.map((r) => r.record);
    const firstStart = Math.min(...batch.map((r) => r.startedAt));
    const firstFinish = Math.min(...batch.map((r) => r.finishedAt));
    const state = await this.reconciliation(manager, nodeId, new Date(firstStart));
    if (!state) return undefined;
    const samples: SampleRow[] = await manager.query(
      `SELECT ${SAMPLE_COLUMNS} FROM node_counter_samples WHERE node_id = $1 AND scraped_at > $2 AND scraped_at <= $3 ORDER BY scraped_at`,
      [nodeId, new Date(state.checked.at), new Date(firstFinish)],
    );
    // Other batches' records already verified that finished in the stretch the samples pass
    // (those of batches not verified yet are counted when theirs is). Requests of up to a day.
    const verified: Array<{ prompt_tokens: number; completion_tokens: number; started_at: Date; finished_at: Date }> = samples.length
      ? await manager.query(
          `SELECT prompt_tokens, completion_tokens, started_at, finished_at FROM usage_records
            WHERE node_id = $1 AND started_at >= greatest($2::timestamptz, $3::timestamptz - interval '1 day') AND started_at <= $4
              AND finished_at > $3 AND finished_at <= $4 AND status = 'ok' AND verdict IS NOT NULL AND batch_id <> $5`,
          [nodeId, new Date(state.baselineAt), new Date(state.checked.at), samples[samples.length - 1].scraped_at, batchId],
        )
      : [];
    const { state: next, facts } = reconcile(
      state,
      batch,
      verified.map((r) => ({ promptTokens: r.prompt_tokens, completionTokens: r.completion_tokens, startedAt: r.started_at.getTime(), finishedAt: r.finished_at.getTime(), ttftMs: 0, status: 'ok' as const })),
      samples.map(counterReading),
    );
    await manager.query(
      `UPDATE node_reconciliations SET checked_at = $2, last_prompt_total = $3, last_generation_total = $4, counted_prompt_tokens = $5, counted_generation_tokens = $6,
              reported_requests = $7, reported_prompt_tokens = $8, reported_completion_tokens = $9, updated_at = now()
        WHERE node_id = $1`,
      [nodeId, new Date(next.checked.at), next.checked.prompt, next.checked.generation, next.counted.prompt, next.counted.generation, next.reported.requests, next.reported.promptTokens, next.reported.completionTokens],
    );
    return facts;
  }

  /** The node's reconciliation, locked; begun at its last sample before `firstStart` when it has none. Undefined when there is no such sample. */
  private async reconciliation(manager: EntityManager, nodeId: string, firstStart: Date): Promise<ReconciliationState | undefined> {
    const lock = () => manager.query(`SELECT ${RECONCILIATION_COLUMNS} FROM node_reconciliations WHERE node_id = $1 FOR UPDATE`, [nodeId]) as Promise<ReconciliationRow[]>;
    let [row] = await lock();
    if (!row) {
      const [baseline]: SampleRow[] = await manager.query(
        `SELECT ${SAMPLE_COLUMNS} FROM node_counter_samples WHERE node_id = $1 AND scraped_at <= $2 ORDER BY scraped_at DESC LIMIT 1`,
        [nodeId, firstStart],
      );
      if (!baseline) return undefined;
      const start = startReconciliation(counterReading(baseline));
      await manager.query(
        `INSERT INTO node_reconciliations (node_id, baseline_at, checked_at, last_prompt_total, last_generation_total) VALUES ($1, $2, $2, $3, $4) ON CONFLICT (node_id) DO NOTHING`,
        [nodeId, new Date(start.baselineAt), start.checked.prompt, start.checked.generation],
      );
      [row] = await lock();
    }
    return {
      baselineAt: row.baseline_at.getTime(),
      checked: { at: row.checked_at.getTime(), prompt: Number(row.last_prompt_total), generation: Number(row.last_generation_total) },
      counted: { prompt: Number(row.counted_prompt_tokens), generation: Number(row.counted_generation_tokens) },
      reported: { requests: Number(row.reported_requests), promptTokens: Number(row.reported_prompt_tokens), completionTokens: Number(row.reported_completion_tokens) },
    };
  }
}

interface SampleRow {
  scraped_at: Date;
  prompt: string;
  generation: string;
}
const SAMPLE_COLUMNS = 'scraped_at, prompt_tokens_total::text AS prompt, generation_tokens_total::text AS generation';
const counterReading = (s: SampleRow): CounterReading => ({ at: s.scraped_at.getTime(), prompt: Number(s.prompt), generation: Number(s.generation) });

interface ReconciliationRow {
  baseline_at: Date;
  checked_at: Date;
  last_prompt_total: string;
  last_generation_total: string;
  counted_prompt_tokens: string;
  counted_generation_tokens: string;
  reported_requests: string;
  reported_prompt_tokens: string;
  reported_completion_tokens: string;
}
const RECONCILIATION_COLUMNS = `baseline_at, checked_at, last_prompt_total::text, last_generation_total::text, counted_prompt_tokens::text, counted_generation_tokens::text,
  reported_requests::text, reported_prompt_tokens::text, reported_completion_tokens::text`;

/**
 * The batch's records not verified yet, each with its delivery, node, model class, key, buyer
 * report and audit. The records are found through the primary key by the request ids the batch's
 * answer accepted (those it stored). The node's and the deliveries' facts are read once, not with
 * every record: the rows stay narrow.
 */
async function batchFacts(manager: EntityManager, nodeId: string, batchId: string): Promise<BatchRecordFacts[]> {
  const [n]: Array<{ provider_id: string; model_class_id: string; tokens_per_second: number; input_weight_bps: number; min_tokens_per_second: number; max_ttft_ms: number }> =
    await manager.query(
      `SELECT n.provider_id, n.model_class_id, n.tokens_per_second, m.input_weight_bps, m.min_tokens_per_second, m.max_ttft_ms
         FROM inference_nodes n JOIN model_classes m ON m.id = n.model_class_id WHERE n.id = $1`,
      [nodeId],
    );
  if (!n) return [];
  const rows: RecordRow[] = await manager.query(
    `SELECT r.request_id, r.delivery_id, r.prompt_tokens, r.completion_tokens, r.started_at, r.finished_at, r.ttft_ms, r.status, k.kind AS key_kind,
            b.prompt_tokens AS buyer_prompt, b.completion_tokens AS buyer_completion,
            a.recounted_completion_tokens AS audit_completion, a.answered_completion_tokens AS audit_answered_completion, a.id IS NOT NULL AS audited
       FROM usage_records r
       LEFT JOIN delivery_keys k ON k.id = r.key_id AND k.delivery_id = r.delivery_id
       LEFT JOIN buyer_reports b ON b.delivery_id = r.delivery_id AND b.request_id = r.request_id
       LEFT JOIN node_audits a ON a.node_id = r.node_id AND a.request_id = r.request_id
      WHERE ${BATCH_RECORDS} AND r.verdict IS NULL
      ORDER BY r.started_at`,
    [nodeId, batchId],
  );
  const deliveries: Array<{ id: string; provider_id: string; model_class_id: string; window_start: Date; window_end: Date }> = rows.length
    ? await manager.query(`SELECT id, provider_id, model_class_id, window_start, window_end FROM deliveries WHERE id = ANY($1::uuid[])`, [[...new Set(rows.map((r) => r.delivery_id))]])
    : [];
  const delivery = new Map<string, DeliveryFacts>(
    deliveries.map((d) => [d.id, { providerId: d.provider_id, modelClassId: d.model_class_id, windowStart: d.window_start.getTime(), windowEnd: d.window_end.getTime() }]),
  );
  const node: NodeFacts = { providerId: n.provider_id, modelClassId: n.model_class_id, tokensPerSecond: n.tokens_per_second };
  const model: ModelClassFacts = { inputWeightBps: n.input_weight_bps, minTokensPerSecond: n.min_tokens_per_second, maxTtftMs: n.max_ttft_ms };
  return rows.map((r) => recordFacts(r, delivery.get(r.delivery_id) ?? null, node, model));
}

function recordFacts(r: RecordRow, delivery: DeliveryFacts | null, node: NodeFacts, model: ModelClassFacts): BatchRecordFacts {
  return {
    requestId: r.request_id,
    deliveryId: r.delivery_id,
    record: { promptTokens: r.prompt_tokens, completionTokens: r.completion_tokens, startedAt: r.started_at.getTime(), finishedAt: r.finished_at.getTime(), ttftMs: r.ttft_ms, status: r.status },
    delivery,
    node,
    model,
    keyKind: r.key_kind,
    buyerReport: r.buyer_prompt !== null && r.buyer_completion !== null ? { promptTokens: r.buyer_prompt, completionTokens: r.buyer_completion } : null,
    audit: r.audited ? { recountedCompletion: r.audit_completion, answeredCompletion: r.audit_answered_completion } : null,
  };
}

/**
 * A buyer's report that arrives after its request was verified (job `metering.check-buyer-reports`):
 * a mismatch beyond tolerance opens a dispute for the record. Its tokens were already billed, so
 * the dispute holds nothing back: it is evidence about the node for an admin (docs/metering.md).
 */
@Injectable()
@HandlesJob('metering.check-buyer-reports')
export class CheckBuyerReportsJob implements JobHandler<'metering.check-buyer-reports'> {
  constructor(private readonly disputes: DisputesRepository) {}

  async handle(payload: { deliveryId: string; requestIds: string[] }, { manager }: JobContext): Promise<void> {
    const rows: Array<{ node_id: string; request_id: string; reported: string; buyer_prompt: number; buyer_completion: number; input_weight_bps: number; prompt_tokens: number; completion_tokens: number }> =
      await manager.query(
        `SELECT r.node_id, r.request_id, r.reported_billable::text AS reported, b.prompt_tokens AS buyer_prompt, b.completion_tokens AS buyer_completion,
                m.input_weight_bps, r.prompt_tokens, r.completion_tokens
           FROM buyer_reports b
           JOIN usage_records r ON r.delivery_id = b.delivery_id AND r.request_id = b.request_id AND r.verdict IN ('verified', 'disputed')
           JOIN deliveries d ON d.id = b.delivery_id
           JOIN model_classes m ON m.id = d.model_class_id
          WHERE b.delivery_id = $1 AND b.request_id = ANY($2::text[])`,
        [payload.deliveryId, payload.requestIds],
      );
    const disputes = lateBuyerReportDisputes(
      rows.map((r) => ({
        nodeId: r.node_id,
        requestId: r.request_id,
        deliveryId: payload.deliveryId,
        reportedBillable: BigInt(r.reported),
        reported: { promptTokens: r.prompt_tokens, completionTokens: r.completion_tokens },
        buyer: { promptTokens: r.buyer_prompt, completionTokens: r.buyer_completion },
        inputWeightBps: r.input_weight_bps,
      })),
    );
    await this.disputes.open(manager, disputes);
  }
}
