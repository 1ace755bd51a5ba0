/**
 * The verdicts on one usage batch (market-rules §7, docs/metering.md), as a pure function: the
 * verification job reads the facts (each record with its delivery, node, model class, the buyer's
 * report and the exchange's audit of it, and the node's counters over the batch's span) and
 * writes what this returns. No I/O, no clock.
 *
 * The rules, per record, in order:
 * - No such delivery, or a failed check of ownership, model, window or status: rejected, nothing billed.
 * - The exchange's own audit request: never billed; a re-count beyond tolerance of the node's
 *   completion tokens opens an `audit_mismatch` dispute holding nothing (evidence about the node).
 * - Implausible (faster than the node's capacity, or phases longer than the request): the whole
 *   reported count is disputed (`implausible`), nothing billed.
 * - Otherwise the reported billable tokens are billed, unless the buyer reported its own count and
 *   the node's exceeds it beyond tolerance: then the buyer's count is billed and the excess is
 *   disputed (`buyer_mismatch`). Within tolerance the node's count stands.
 * And for the batch, on every record still verified:
 * - When the node's counters grew by less than it reported since its reconciliation's baseline
 *   (core/reconciliation.ts; beyond tolerance), they are held out whole, one `counter_mismatch`
 *   dispute per delivery (one holding nothing when there is nothing to hold: the node is caught).
 * - Otherwise, while the node is under review (an audit or counter dispute about it is open), they
 *   are held out whole too, one `node_under_review` dispute per delivery: a node caught inflating
 *   is paid nothing more until an admin has looked.
 */
import { type DeliveryFacts, type ModelClassFacts, type NodeFacts, type RecordFacts, beyondTolerance, billableTokens, checkRecord, countersDisagree } from './verification.js';

export type DisputeKind = 'implausible' | 'buyer_mismatch' | 'audit_mismatch' | 'counter_mismatch' | 'node_under_review';

/** Disputes about the node itself, not one request: while one is open, the node is under review. */
export const NODE_REVIEW_KINDS: readonly DisputeKind[] = ['audit_mismatch', 'counter_mismatch'];

/** A dispute to open (once per key), holding `tokens` of its delivery out of settlement. */
export interface NewDispute {
  readonly key: string;
  readonly deliveryId: string;
  readonly nodeId: string;
  readonly kind: DisputeKind;
  readonly tokens: bigint;
  readonly evidence: Record<string, unknown>;
}

export interface TokenCounts {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** One record of the batch with what the exchange knows about it. */
export interface BatchRecordFacts {
  readonly requestId: string;
  readonly deliveryId: string;
  readonly record: RecordFacts;
  /** The record's delivery; null when no such delivery exists. */
  readonly delivery: DeliveryFacts | null;
  readonly node: NodeFacts;
  readonly model: ModelClassFacts;
  /** The kind of delivery key the request was made with, when known. */
  readonly keyKind: 'buyer' | 'audit' | null;
  /** The buyer's own count of the request, when it reported one. */
  readonly buyerReport: TokenCounts | null;
  /** The exchange's audit of the request (it sent it), with its re-count when it has one. */
  readonly audit: { readonly recountedCompletion: number | null; readonly answeredCompletion: number | null } | null;
}

/** The node's reconciliation with its counters, from its baseline sample to one after this batch (core/reconciliation.ts). */
export interface CounterFacts {
  readonly from: number;
  readonly to: number;
  /** What the node reported for its successful requests started since `from`, all finished by `to`. */
  readonly reported: { readonly requests: number; readonly promptTokens: number; readonly completionTokens: number };
  /** How much its counters grew from `from` to `to`. */
  readonly counted: { readonly promptTokens: number; readonly generationTokens: number };
}

export interface BatchFacts {
  readonly nodeId: string;
  readonly batchId: string;
  /** In the order of their start. */
  readonly records: readonly BatchRecordFacts[];
  /** Absent when the node's counters are not compared (never scraped, or no sample before the batch). */
  readonly counters?: CounterFacts;
  /** An audit or counter dispute about the node is open: what it reports is held for an admin. */
  readonly underReview?: boolean;
}

export type Verdict = 'verified' | 'disputed' | 'rejected' | 'audit';

export interface RecordOutcome {
  readonly requestId: string;
  readonly verdict: Verdict;
  readonly billable: bigint;
  /** Whether the request met the SLA; null when it was not judged (rejected early, or failed). */
  readonly withinSla: boolean | null;
  /** Why: the rejection, the dispute kinds, `out_of_sla: <problem>`. */
  readonly flags: readonly string[];
}

/** Billable tokens accepted for payment, under the usage's business key. */
export interface AcceptedUsage {
  readonly id: string;
  readonly deliveryId: string;
  readonly tokens: bigint;
}

export interface BatchVerdict {
  /** One per record, in the records' order. */
  readonly records: readonly RecordOutcome[];
  /** The records billed (positive billable tokens), keyed `usage:<node>:<request>`. */
  readonly usage: readonly AcceptedUsage[];
  readonly disputes: readonly NewDispute[];
}

type Outcome = { requestId: string; verdict: Verdict; billable: bigint; withinSla: boolean | null; flags: string[] };

export function verifyBatch(batch: BatchFacts): BatchVerdict {
  const disputes: NewDispute[] = [];
  const outcomes = batch.records.map((r) => verifyRecord(batch.nodeId, r, disputes));

  const counters = batch.counters && counterMismatch(batch.counters);
  if (counters) holdVerified(batch, outcomes, disputes, 'counter_mismatch', counters);
  else if (batch.underReview) holdVerified(batch, outcomes, disputes, 'node_under_review', {});

  const usage = batch.records
    .map((r, i) => ({ id: `usage:${batch.nodeId}:${r.requestId}`, deliveryId: r.deliveryId, tokens: outcomes[i].billable }))
    .filter((u) => u.tokens > 0n);
  return { records: outcomes, usage, disputes };
}

/** Holds every verified record of the batch out whole: one dispute of `kind` per delivery. */
function holdVerified(batch: BatchFacts, outcomes: Outcome[], disputes: NewDispute[], kind: DisputeKind, evidence: Record<string, unknown>): void {
  const held = new Map<string, bigint>();
  batch.records.forEach((r, i) => {
    const o = outcomes[i];
    if (o.verdict !== 'verified' || o.billable <= 0n) return;
    held.set(r.deliveryId, (held.get(r.deliveryId) ?? 0n) + o.billable);
    outcomes[i] = { ...o, verdict: 'disputed', billable: 0n, flags: [...o.flags, kind] };
  });
  // The counters' verdict is about the node: recorded even when the batch has nothing to hold
  // (its records all audits or rejected), so that the node is under review from now on.
  const known = batch.records.find((r) => r.delivery !== null);
  if (held.size === 0 && kind === 'counter_mismatch' && known) held.set(known.deliveryId, 0n);
  for (const [deliveryId, tokens] of held) {
    disputes.push({ key: `batch:${batch.nodeId}:${batch.batchId}:${deliveryId}:${kind}`, deliveryId, nodeId: batch.nodeId, kind, tokens, evidence: { batchId: batch.batchId, ...evidence } });
  }
}

function verifyRecord(nodeId: string, r: BatchRecordFacts, disputes: NewDispute[]): Outcome {
  const requestId = r.requestId;
  if (!r.delivery) return { requestId, verdict: 'rejected', billable: 0n, withinSla: null, flags: ['unknown_delivery'] };
  const check = checkRecord(r.record, r.delivery, r.node, r.model);
  const withinSla = check.withinSla ?? null;
  const flags: string[] = check.slaProblem ? [`out_of_sla: ${check.slaProblem}`] : [];
  if (check.rejection) return { requestId, verdict: 'rejected', billable: 0n, withinSla, flags: [check.rejection, ...flags] };

  const reported = check.reportedBillable;
  const dispute = (key: string, kind: DisputeKind, tokens: bigint, evidence: Record<string, unknown>) =>
    disputes.push({ key, deliveryId: r.deliveryId, nodeId, kind, tokens, evidence });
  // The exchange's own requests (it knows their ids) are never billed; they are evidence about the node.
  if (r.audit || r.keyKind === 'audit') {
    const recounted = r.audit?.recountedCompletion ?? null;
    if (recounted !== null && beyondTolerance(BigInt(r.record.completionTokens), BigInt(recounted))) {
      dispute(`audit:${nodeId}:${requestId}`, 'audit_mismatch', 0n, {
        requestId,
        reportedCompletion: r.record.completionTokens,
        recountedCompletion: recounted,
        answeredCompletion: r.audit?.answeredCompletion ?? null,
      });
      flags.push('audit_mismatch');
    }
    return { requestId, verdict: 'audit', billable: 0n, withinSla, flags };
  }
  if (check.implausible) {
    dispute(`record:${nodeId}:${requestId}:implausible`, 'implausible', reported, { requestId, problem: check.implausible });
    return { requestId, verdict: 'disputed', billable: 0n, withinSla, flags: ['implausible', ...flags] };
  }
  if (r.buyerReport) {
    const buyers = billableTokens(r.buyerReport.promptTokens, r.buyerReport.completionTokens, r.model.inputWeightBps);
    if (beyondTolerance(reported, buyers)) {
      dispute(`record:${nodeId}:${requestId}:buyer_mismatch`, 'buyer_mismatch', reported - buyers, {
        requestId,
        reported: { promptTokens: r.record.promptTokens, completionTokens: r.record.completionTokens },
        buyer: { promptTokens: r.buyerReport.promptTokens, completionTokens: r.buyerReport.completionTokens },
      });
      return { requestId, verdict: 'disputed', billable: buyers, withinSla, flags: [...flags, 'buyer_mismatch'] };
    }
  }
  return { requestId, verdict: 'verified', billable: reported, withinSla, flags };
}

/**
 * The counters' evidence when the node reported more than its own server counted since the
 * reconciliation's baseline (prompt or generation tokens, beyond tolerance); undefined when they agree.
 */
export function counterMismatch(c: CounterFacts): Record<string, unknown> | undefined {
  const { promptTokens, generationTokens } = c.counted;
  if (!countersDisagree(c.reported.completionTokens, generationTokens) && !countersDisagree(c.reported.promptTokens, promptTokens)) return undefined;
  return {
    from: new Date(c.from).toISOString(),
    to: new Date(c.to).toISOString(),
    reported: { requests: c.reported.requests, promptTokens: c.reported.promptTokens, completionTokens: c.reported.completionTokens },
    counters: { promptTokens, generationTokens },
  };
}

/** A buyer's report of a request that was already verified and billed. */
export interface LateBuyerReport {
  readonly nodeId: string;
  readonly requestId: string;
  readonly deliveryId: string;
  readonly reportedBillable: bigint;
  readonly reported: TokenCounts;
  readonly buyer: TokenCounts;
  readonly inputWeightBps: number;
}

/**
 * Late buyer reports that disagree with the billed count beyond tolerance: a `buyer_mismatch`
 * dispute each, holding nothing (the money already moved; it is evidence for an admin).
 */
export function lateBuyerReportDisputes(reports: readonly LateBuyerReport[]): NewDispute[] {
  return reports
    .filter((r) => beyondTolerance(r.reportedBillable, billableTokens(r.buyer.promptTokens, r.buyer.completionTokens, r.inputWeightBps)))
    .map((r) => ({
      key: `record:${r.nodeId}:${r.requestId}:buyer_mismatch`,
      deliveryId: r.deliveryId,
      nodeId: r.nodeId,
      kind: 'buyer_mismatch' as const,
      tokens: 0n,
      evidence: { requestId: r.requestId, alreadyBilled: String(r.reportedBillable), reported: r.reported, buyer: r.buyer },
    }));
}
