import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { HandlesJob, type JobContext, type JobHandler } from '../platform/jobs/job-handler.js';
import { SettlementService } from '../settlement/settlement.service.js';
import { beyondTolerance, billableTokens, checkRecord, counterIncrease, countersDisagree } from './core/verification.js';

interface RecordRow {
  node_id: string;
  request_id: string;
  delivery_id: string;
  key_id: string;
  prompt_tokens: number;
  completion_tokens: number;
  started_at: Date;
  finished_at: Date;
  ttft_ms: number;
  status: 'ok' | 'error';
  reported_billable: string;
  // the delivery, the node and the model class
  d_provider_id: string | null;
  d_buyer_id: string | null;
  d_model_class_id: string | null;
  window_start: Date | null;
  window_end: Date | null;
  n_provider_id: string;
  n_model_class_id: string;
  tokens_per_second: number;
  input_weight_bps: number;
  min_tokens_per_second: number;
  max_ttft_ms: number;
  key_kind: 'buyer' | 'audit' | null;
  // what the exchange knows independently
  buyer_prompt: number | null;
  buyer_completion: number | null;
  audit_completion: number | null;
  audit_answered_completion: number | null;
  audited: boolean;
}

export interface NewDispute {
  readonly key: string;
  readonly deliveryId: string;
  readonly nodeId: string;
  readonly kind: string;
  readonly tokens: bigint;
  readonly evidence: Record<string, unknown>;
}

/**
 * Verifies each usage batch once it is stored (job `metering.verify-batch`, from the outbox row
 * written with the batch), and buyers' late reports (`metering.check-buyer-reports`). For every
 * record: ownership, model, window, plausibility and SLA (core/verification.ts); agreement with
 * the buyer's count and with the exchange's own audit re-count where they exist; and for the
 * batch, reconciliation with the node's own counters. Billable tokens are the exchange's count
 * where it has one (`min(reported, recount)`); the excess beyond tolerance opens a dispute and is
 * held out. Verified tokens go to the settlement worker's payouts, in the same transaction.
 */
@Injectable()
@HandlesJob('metering.verify-batch')
export class VerifyBatchJob implements JobHandler<'metering.verify-batch'> {
  private readonly logger = new Logger(VerifyBatchJob.name);

  constructor(private readonly settlement: SettlementService) {}

  async handle(payload: { nodeId: string; batchId: string }, { manager }: JobContext): Promise<void> {
    const [batch] = await manager.query(`SELECT node_id, status FROM usage_batches WHERE node_id = $1 AND batch_id = $2 FOR UPDATE`, [payload.nodeId, payload.batchId]);
    if (!batch || batch.status === 'verified') return;
    const records: RecordRow[] = await manager.query(
      `SELECT r.node_id, r.request_id, r.delivery_id, r.key_id, r.prompt_tokens, r.completion_tokens, r.started_at, r.finished_at, r.ttft_ms, r.status,
              r.reported_billable::text, d.provider_id AS d_provider_id, d.buyer_id AS d_buyer_id, d.model_class_id AS d_model_class_id,
              d.window_start, d.window_end, n.provider_id AS n_provider_id, n.model_class_id AS n_model_class_id, n.tokens_per_second,
              m.input_weight_bps, m.min_tokens_per_second, m.max_ttft_ms, k.kind AS key_kind,
              b.prompt_tokens AS buyer_prompt, b.completion_tokens AS buyer_completion,
              a.recounted_completion_tokens AS audit_completion, a.answered_completion_tokens AS audit_answered_completion, a.id IS NOT NULL AS audited
         FROM usage_records r
         JOIN inference_nodes n ON n.id = r.node_id
         JOIN model_classes m ON m.id = n.model_class_id
         LEFT JOIN deliveries d ON d.id = r.delivery_id
         LEFT JOIN delivery_keys k ON k.id = r.key_id AND k.delivery_id = r.delivery_id
         LEFT JOIN buyer_reports b ON b.delivery_id = r.delivery_id AND b.request_id = r.request_id
         LEFT JOIN node_audits a ON a.node_id = r.node_id AND a.request_id = r.request_id
        WHERE r.node_id = $1 AND r.batch_id = $2 AND r.verdict IS NULL
        ORDER BY r.started_at`,
      [payload.nodeId, payload.batchId],
    );
    const deliveryOf = new Map(records.map((r) => [r.request_id, r.delivery_id]));
    const disputes: NewDispute[] = [];
    const verdicts: Array<{ requestId: string; verdict: string; billable: bigint; withinSla: boolean | null; flags: string[] }> = [];
    for (const r of records) {
      const flags: string[] = [];
      if (!r.d_provider_id) {
        verdicts.push({ requestId: r.request_id, verdict: 'rejected', billable: 0n, withinSla: null, flags: ['unknown_delivery'] });
        continue;
      }
      const check = checkRecord(
        { promptTokens: r.prompt_tokens, completionTokens: r.completion_tokens, startedAt: r.started_at.getTime(), finishedAt: r.finished_at.getTime(), ttftMs: r.ttft_ms, status: r.status },
        { providerId: r.d_provider_id, modelClassId: r.d_model_class_id!, windowStart: r.window_start!.getTime(), windowEnd: r.window_end!.getTime() },
        { providerId: r.n_provider_id, modelClassId: r.n_model_class_id, tokensPerSecond: r.tokens_per_second },
        { inputWeightBps: r.input_weight_bps, minTokensPerSecond: r.min_tokens_per_second, maxTtftMs: r.max_ttft_ms },
      );
      if (check.slaProblem) flags.push(`out_of_sla: ${check.slaProblem}`);
      if (check.rejection) {
        verdicts.push({ requestId: r.request_id, verdict: 'rejected', billable: 0n, withinSla: check.withinSla ?? null, flags: [check.rejection, ...flags] });
        continue;
      }
      const reported = check.reportedBillable;
      // The exchange's own requests (it knows their ids) are never billed; they are evidence about the node.
      if (r.audited || r.key_kind === 'audit') {
        if (r.audit_completion !== null && beyondTolerance(BigInt(r.completion_tokens), BigInt(r.audit_completion))) {
          disputes.push({
            key: `audit:${r.node_id}:${r.request_id}`,
            deliveryId: r.delivery_id,
            nodeId: r.node_id,
            kind: 'audit_mismatch',
            tokens: 0n,
            evidence: { requestId: r.request_id, reportedCompletion: r.completion_tokens, recountedCompletion: r.audit_completion, answeredCompletion: r.audit_answered_completion },
          });
          flags.push('audit_mismatch');
        }
        verdicts.push({ requestId: r.request_id, verdict: 'audit', billable: 0n, withinSla: check.withinSla ?? null, flags });
        continue;
      }
      let billable = reported;
      if (check.implausible) {
        disputes.push({ key: `record:${r.node_id}:${r.request_id}:implausible`, deliveryId: r.delivery_id, nodeId: r.node_id, kind: 'implausible', tokens: reported, evidence: { requestId: r.request_id, problem: check.implausible } });
        verdicts.push({ requestId: r.request_id, verdict: 'disputed', billable: 0n, withinSla: check.withinSla ?? null, flags: ['implausible', ...flags] });
        continue;
      }
      if (r.buyer_prompt !== null && r.buyer_completion !== null) {
        const buyers = billableTokens(r.buyer_prompt, r.buyer_completion, r.input_weight_bps);
        if (beyondTolerance(reported, buyers)) {
          disputes.push({
            key: `record:${r.node_id}:${r.request_id}:buyer_mismatch`,
            deliveryId: r.delivery_id,
            nodeId: r.node_id,
            kind: 'buyer_mismatch',
            tokens: reported - buyers,
            evidence: { requestId: r.request_id, reported: { promptTokens: r.prompt_tokens, completionTokens: r.completion_tokens }, buyer: { promptTokens: r.buyer_prompt, completionTokens: r.buyer_completion } },
          });
          flags.push('buyer_mismatch');
          billable = buyers;
        }
      }
      verdicts.push({ requestId: r.request_id, verdict: flags.includes('buyer_mismatch') ? 'disputed' : 'verified', billable, withinSla: check.withinSla ?? null, flags });
    }

    // The node's own counters must have grown by at least what it reported since a sample taken
    // before these requests began (docs/metering.md): otherwise the whole batch is held out.
    const counterDispute = await this.reconcileCounters(manager, batch.node_id, records);
    if (counterDispute) {
      for (const v of verdicts) {
        if (v.verdict === 'verified' && v.billable > 0n) {
          v.verdict = 'disputed';
          v.flags.push('counter_mismatch');
        }
      }
      const held = verdicts.filter((v) => v.flags.includes('counter_mismatch'));
      const byDelivery = new Map<string, bigint>();
      for (const v of held) {
        const deliveryId = deliveryOf.get(v.requestId)!;
        byDelivery.set(deliveryId, (byDelivery.get(deliveryId) ?? 0n) + v.billable);
        v.billable = 0n;
      }
      for (const [deliveryId, tokens] of byDelivery) {
        disputes.push({ key: `batch:${payload.nodeId}:${payload.batchId}:${deliveryId}:counter_mismatch`, deliveryId, nodeId: batch.node_id, kind: 'counter_mismatch', tokens, evidence: { batchId: payload.batchId, ...counterDispute } });
      }
    }

    await manager.query(
      `UPDATE usage_records r SET verdict = v.verdict, billable_tokens = v.billable, within_sla = v.within_sla, flags = ARRAY(SELECT jsonb_array_elements_text(v.flags))
         FROM unnest($2::text[], $3::text[], $4::bigint[], $5::boolean[], $6::jsonb[]) AS v(request_id, verdict, billable, within_sla, flags)
        WHERE r.node_id = $1 AND r.request_id = v.request_id`,
      [
        batch.node_id,
        verdicts.map((v) => v.requestId),
        verdicts.map((v) => v.verdict),
        verdicts.map((v) => String(v.billable)),
        verdicts.map((v) => v.withinSla),
        verdicts.map((v) => JSON.stringify(v.flags)),
      ],
    );
    // Verified tokens go to settlement in one statement for the whole batch.
    await this.settlement.recordVerifiedUsages(
      verdicts.map((v) => ({ id: `usage:${batch.node_id}:${v.requestId}`, deliveryId: deliveryOf.get(v.requestId)!, tokens: v.billable })),
      manager,
    );
    await openDisputes(manager, disputes);
    await manager.query(`UPDATE usage_batches SET status = 'verified', verified_at = now() WHERE node_id = $1 AND batch_id = $2`, [payload.nodeId, payload.batchId]);
    if (disputes.length > 0) this.logger.warn({ batch: payload.batchId, disputes: disputes.map((d) => d.kind) }, 'usage disputed');
  }

  /**
   * Compares what the node reported for requests started since its last counter sample before
   * this batch's first request with how much its counters grew from that sample to the latest.
   * Undefined when it agrees, or when there are no samples to compare with.
   */
  private async reconcileCounters(manager: EntityManager, nodeId: string, records: readonly RecordRow[]): Promise<Record<string, unknown> | undefined> {
    if (records.length === 0) return undefined;
    const first = records[0].started_at;
    const last = records.reduce((m, r) => (r.finished_at > m ? r.finished_at : m), first);
    const samples: Array<{ scraped_at: Date; prompt: string; generation: string }> = await manager.query(
      `SELECT scraped_at, prompt_tokens_total::text AS prompt, generation_tokens_total::text AS generation FROM node_counter_samples
        WHERE node_id = $1 AND scraped_at >= (SELECT max(scraped_at) FROM node_counter_samples WHERE node_id = $1 AND scraped_at <= $2)
        ORDER BY scraped_at`,
      [nodeId, first],
    );
    if (samples.length < 2 || samples[samples.length - 1].scraped_at < last) {
      // The node's counters are being scraped but not yet past this batch: retry shortly (the job
      // backs off) rather than verify without them. A node never scraped goes without this check.
      const [recent] = await manager.query(`SELECT 1 FROM node_counter_samples WHERE node_id = $1 AND scraped_at > now() - interval '1 minute' LIMIT 1`, [nodeId]);
      if (recent && samples.length > 0) throw new Error(`waiting for a counter sample of node ${nodeId} after ${last.toISOString()}`);
      return undefined;
    }
    const from = samples[0].scraped_at;
    const to = samples[samples.length - 1].scraped_at;
    const [reported] = await manager.query(
      `SELECT count(*)::int AS requests, coalesce(sum(prompt_tokens), 0)::bigint::text AS prompt, coalesce(sum(completion_tokens), 0)::bigint::text AS completion
         FROM usage_records WHERE node_id = $1 AND started_at >= $2 AND finished_at <= $3 AND status = 'ok'`,
      [nodeId, from, to],
    );
    const series = (key: 'prompt' | 'generation') => samples.map((s) => ({ at: s.scraped_at.getTime(), value: Number(s[key]) }));
    const promptGrowth = counterIncrease(series('prompt'));
    const generationGrowth = counterIncrease(series('generation'));
    const disagree =
      countersDisagree(Number(reported.completion), generationGrowth) || countersDisagree(Number(reported.prompt), promptGrowth);
    if (!disagree) return undefined;
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      reported: { requests: reported.requests, promptTokens: Number(reported.prompt), completionTokens: Number(reported.completion) },
      counters: { promptTokens: promptGrowth, generationTokens: generationGrowth },
    };
  }
}

/**
 * Opens disputes (once per key) and holds their tokens out of settlement: the delivery's
 * `disputed_tokens` grows by what is left room for, so a delivery never holds more than it sold.
 */
export async function openDisputes(manager: EntityManager, disputes: readonly NewDispute[]): Promise<void> {
  for (const d of disputes) {
    const [inserted] = await manager.query(
      `INSERT INTO disputes (key, delivery_id, node_id, provider_id, buyer_id, kind, tokens, evidence)
       SELECT $1, d.id, $3, d.provider_id, d.buyer_id, $4,
              GREATEST(0, LEAST($5::bigint, d.quantity_tokens - d.paid_tokens - d.disputed_tokens - (SELECT coalesce(sum(u.tokens), 0) FROM delivery_usage u WHERE u.delivery_id = d.id AND u.payout_id IS NULL))),
              $6
         FROM deliveries d WHERE d.id = $2 FOR UPDATE OF d
       ON CONFLICT (key) DO NOTHING
       RETURNING delivery_id, tokens`,
      [d.key, d.deliveryId, d.nodeId, d.kind, String(d.tokens), JSON.stringify(d.evidence)],
    );
    if (inserted && BigInt(inserted.tokens) > 0n) {
      await manager.query(`UPDATE deliveries SET disputed_tokens = disputed_tokens + $2 WHERE id = $1`, [inserted.delivery_id, inserted.tokens]);
    }
  }
}

/**
 * A buyer's report that arrives after its request was verified (job `metering.check-buyer-reports`):
 * a mismatch beyond tolerance opens a dispute for the record. Its tokens were already billed, so
 * the dispute holds nothing back: it is evidence about the node for an admin (docs/metering.md).
 */
@Injectable()
@HandlesJob('metering.check-buyer-reports')
export class CheckBuyerReportsJob implements JobHandler<'metering.check-buyer-reports'> {
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
    const disputes: NewDispute[] = [];
    for (const r of rows) {
      const buyers = billableTokens(r.buyer_prompt, r.buyer_completion, r.input_weight_bps);
      if (!beyondTolerance(BigInt(r.reported), buyers)) continue;
      disputes.push({
        key: `record:${r.node_id}:${r.request_id}:buyer_mismatch`,
        deliveryId: payload.deliveryId,
        nodeId: r.node_id,
        kind: 'buyer_mismatch',
        tokens: 0n,
        evidence: { requestId: r.request_id, alreadyBilled: r.reported, reported: { promptTokens: r.prompt_tokens, completionTokens: r.completion_tokens }, buyer: { promptTokens: r.buyer_prompt, completionTokens: r.buyer_completion } },
      });
    }
    await openDisputes(manager, disputes);
  }
}
