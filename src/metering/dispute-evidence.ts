import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { counterIncrease } from './core/verification.js';
import type { DisputeEvidenceView } from './metering.dto.js';
import { BATCH_RECORDS } from './metering.entities.js';

/** The most usage records of a batch shown with a dispute: batches hold up to 5,000. */
const MAX_RECORDS = 500;
/** Without a batch (an audit's own mismatch), the counters of this long before the dispute opened. */
const COUNTERS_BEFORE_MS = 10 * 60_000;

interface DisputeFacts {
  readonly id: string;
  readonly deliveryId: string;
  readonly nodeId: string;
  readonly evidence: Record<string, unknown>;
  readonly createdAt: Date;
}

/**
 * What an admin weighs before resolving a dispute, read from metering's own tables, side by side:
 * the node's signed report (the batch the disputed request or counters came in, its records for
 * the dispute's delivery, with their verdicts), the buyer's counts of the same requests, the
 * exchange's audits of the node with their re-counts, and the node's counters over the span the
 * batch covers (or the minutes before the dispute when it has no batch).
 */
@Injectable()
export class DisputeEvidenceRepository {
  async read(manager: EntityManager, d: DisputeFacts): Promise<DisputeEvidenceView> {
    const batchId = await this.batchOf(manager, d);
    const report = batchId ? await this.nodeReport(manager, d, batchId) : null;
    const requestIds = report?.records.map((r) => r.requestId) ?? [];
    const disputedRequest = typeof d.evidence.requestId === 'string' ? d.evidence.requestId : null;
    if (disputedRequest && !requestIds.includes(disputedRequest)) requestIds.push(disputedRequest);

    const buyer: Array<{ request_id: string; prompt_tokens: number; completion_tokens: number; reported_at: Date }> = await manager.query(
      `SELECT request_id, prompt_tokens, completion_tokens, reported_at FROM buyer_reports
        WHERE delivery_id = $1 AND request_id = ANY($2::text[]) ORDER BY reported_at, request_id`,
      [d.deliveryId, requestIds],
    );
    const audits: Array<Record<string, unknown> & { created_at: Date }> = await manager.query(
      `SELECT a.id, a.request_id, a.ok, a.answered_prompt_tokens, a.answered_completion_tokens, a.recounted_completion_tokens, a.error, a.endpoint, a.stream, a.created_at, m.tokenizer
         FROM node_audits a JOIN inference_nodes n ON n.id = a.node_id JOIN model_classes m ON m.id = n.model_class_id
        WHERE a.node_id = $1 AND (a.delivery_id = $2 OR a.request_id = ANY($3::text[])) AND a.ok IS NOT NULL
        ORDER BY a.created_at DESC LIMIT 50`,
      [d.nodeId, d.deliveryId, requestIds],
    );
    const span = report?.span ?? { from: new Date(d.createdAt.getTime() - COUNTERS_BEFORE_MS), to: d.createdAt };
    return {
      nodeReport: report && { ...report.view, records: report.records },
      buyerReport: buyer.map((b) => ({ requestId: b.request_id, promptTokens: b.prompt_tokens, completionTokens: b.completion_tokens, reportedAt: b.reported_at.toISOString() })),
      audits: audits.map((a) => ({
        id: a.id as string,
        requestId: a.request_id as string | null,
        ok: a.ok as boolean,
        answeredPromptTokens: a.answered_prompt_tokens as number | null,
        answeredCompletionTokens: a.answered_completion_tokens as number | null,
        recountedCompletionTokens: a.recounted_completion_tokens as number | null,
        tokenizer: a.tokenizer as string,
        endpoint: a.endpoint as 'completions' | 'chat',
        stream: a.stream as boolean,
        error: a.error as string | null,
        createdAt: a.created_at.toISOString(),
      })),
      counters: await this.counters(manager, d.nodeId, span),
    };
  }

  /** The batch the dispute is about: named in its evidence, or the one that carried its request. */
  private async batchOf(manager: EntityManager, d: DisputeFacts): Promise<string | null> {
    if (typeof d.evidence.batchId === 'string') return d.evidence.batchId;
    if (typeof d.evidence.requestId !== 'string') return null;
    const [row] = await manager.query(`SELECT batch_id FROM usage_records WHERE node_id = $1 AND request_id = $2`, [d.nodeId, d.evidence.requestId]);
    return row?.batch_id ?? null;
  }

  private async nodeReport(manager: EntityManager, d: DisputeFacts, batchId: string) {
    const [batch] = await manager.query(
      `SELECT batch_id, signature, record_count, received_at, verified_at FROM usage_batches WHERE node_id = $1 AND batch_id = $2`,
      [d.nodeId, batchId],
    );
    if (!batch) return null;
    const rows: Array<Record<string, unknown> & { started_at: Date; finished_at: Date }> = await manager.query(
      `SELECT request_id, model, prompt_tokens, completion_tokens, reported_billable::text, billable_tokens::text, verdict, flags, within_sla,
              status, started_at, finished_at, ttft_ms
         FROM usage_records r WHERE ${BATCH_RECORDS} AND r.delivery_id = $3 ORDER BY started_at, request_id LIMIT ${MAX_RECORDS}`,
      [d.nodeId, batchId, d.deliveryId],
    );
    const records = rows.map((r) => ({
      requestId: r.request_id as string,
      model: r.model as string,
      promptTokens: r.prompt_tokens as number,
      completionTokens: r.completion_tokens as number,
      reportedBillable: Number(r.reported_billable),
      billableTokens: r.billable_tokens === null ? null : Number(r.billable_tokens),
      verdict: r.verdict as string | null,
      flags: r.flags as string[],
      withinSla: r.within_sla as boolean | null,
      status: r.status as string,
      startedAt: r.started_at.toISOString(),
      finishedAt: r.finished_at.toISOString(),
      ttftMs: r.ttft_ms as number,
    }));
    const span =
      rows.length === 0
        ? undefined
        : { from: rows[0].started_at, to: rows.reduce((m, r) => (r.finished_at > m ? r.finished_at : m), rows[0].finished_at) };
    const view = {
      batchId: batch.batch_id as string,
      signature: batch.signature as string,
      recordCount: batch.record_count as number,
      receivedAt: (batch.received_at as Date).toISOString(),
      verifiedAt: (batch.verified_at as Date | null)?.toISOString() ?? null,
    };
    return { view, records, span };
  }

  /** The node's counter samples from its last one at or before `from` to its first at or after `to`, and their growth. */
  private async counters(manager: EntityManager, nodeId: string, span: { from: Date; to: Date }): Promise<DisputeEvidenceView['counters']> {
    const samples: Array<{ scraped_at: Date; prompt: string; generation: string; success: string }> = await manager.query(
      `SELECT scraped_at, prompt_tokens_total::text AS prompt, generation_tokens_total::text AS generation, request_success_total::text AS success
         FROM node_counter_samples
        WHERE node_id = $1
          AND scraped_at >= coalesce((SELECT max(scraped_at) FROM node_counter_samples WHERE node_id = $1 AND scraped_at <= $2), $2)
          AND scraped_at <= coalesce((SELECT min(scraped_at) FROM node_counter_samples WHERE node_id = $1 AND scraped_at >= $3), $3)
        ORDER BY scraped_at LIMIT 200`,
      [nodeId, span.from, span.to],
    );
    const series = (key: 'prompt' | 'generation') => samples.map((s) => ({ at: s.scraped_at.getTime(), value: Number(s[key]) }));
    return {
      from: span.from.toISOString(),
      to: span.to.toISOString(),
      samples: samples.map((s) => ({ scrapedAt: s.scraped_at.toISOString(), promptTokensTotal: s.prompt, generationTokensTotal: s.generation, requestSuccessTotal: s.success })),
      growth: samples.length < 2 ? null : { promptTokens: counterIncrease(series('prompt')), generationTokens: counterIncrease(series('generation')) },
    };
  }
}
