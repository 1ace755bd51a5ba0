/**
 * The checks metering runs on a node's reported usage (market-rules §7), as pure functions: no
 * I/O, no clock. The verification job gathers the facts (the delivery, the model class, buyer
 * reports, counter samples, audits) and these decide.
 */

/** Billable tokens of one request (market-rules §1). */
export function billableTokens(promptTokens: number, completionTokens: number, inputWeightBps: number): bigint {
  return BigInt(completionTokens) + (BigInt(promptTokens) * BigInt(inputWeightBps)) / 10_000n;
}

/** Default tolerance (market-rules §7): 0.5 %, and at least 2 tokens a request. */
export const TOLERANCE_BPS = 50n;
export const TOLERANCE_MIN_TOKENS = 2n;

/** Whether `reported` exceeds `counted` (the exchange's or the buyer's count) beyond tolerance. */
export function beyondTolerance(reported: bigint, counted: bigint, requests = 1n): boolean {
  const allowed = maxBig((counted * TOLERANCE_BPS + 9_999n) / 10_000n, TOLERANCE_MIN_TOKENS * requests);
  return reported - counted > allowed;
}

export interface RecordFacts {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly ttftMs: number;
  readonly status: 'ok' | 'error';
}

export interface DeliveryFacts {
  readonly providerId: string;
  readonly modelClassId: string;
  readonly windowStart: number;
  readonly windowEnd: number;
}

export interface NodeFacts {
  readonly providerId: string;
  readonly modelClassId: string;
  readonly tokensPerSecond: number;
}

export interface ModelClassFacts {
  readonly inputWeightBps: number;
  readonly minTokensPerSecond: number;
  readonly maxTtftMs: number;
}

/** Reasons a record is not billed at all. */
export type Rejection = 'wrong_provider' | 'wrong_model' | 'outside_window' | 'failed_request';

/** Reasons a record's tokens are held out for an admin. */
export type DisputeKind = 'implausible' | 'buyer_mismatch' | 'audit_mismatch' | 'counter_mismatch';

export interface RecordVerdict {
  readonly rejection?: Rejection;
  /** Its tokens are not believable as reported: held out for an admin. */
  readonly implausible?: string;
  /** Whether the request met the model class's SLA; undefined when it failed. */
  readonly withinSla?: boolean;
  readonly slaProblem?: string;
  readonly reportedBillable: bigint;
}

/** Clock skew allowed between a node and the exchange at the window's edges. */
export const WINDOW_SKEW_MS = 5_000;

/**
 * Ownership, model, window, plausibility and SLA of one record. Plausibility: no request can
 * generate faster than the node's whole declared capacity (with 10 % headroom), and a request's
 * phases must fit in its duration. The SLA (market-rules §1): time to first token within the
 * model class's `maxTtftMs`, and generation at least `minTokensPerSecond` after the first token.
 */
export function checkRecord(r: RecordFacts, d: DeliveryFacts, node: NodeFacts, model: ModelClassFacts): RecordVerdict {
  const reportedBillable = billableTokens(r.promptTokens, r.completionTokens, model.inputWeightBps);
  if (node.providerId !== d.providerId) return { rejection: 'wrong_provider', reportedBillable };
  if (node.modelClassId !== d.modelClassId) return { rejection: 'wrong_model', reportedBillable };
  if (r.startedAt < d.windowStart - WINDOW_SKEW_MS || r.finishedAt > d.windowEnd + WINDOW_SKEW_MS) return { rejection: 'outside_window', reportedBillable };
  if (r.status === 'error') return { rejection: 'failed_request', reportedBillable };
  const durationMs = r.finishedAt - r.startedAt;
  const generationMs = durationMs - r.ttftMs;
  let implausible: string | undefined;
  if (r.ttftMs > durationMs) implausible = `time to first token ${r.ttftMs} ms exceeds the request's duration ${durationMs} ms`;
  else if (r.completionTokens > 1 && r.completionTokens * 1000 > node.tokensPerSecond * 1.1 * Math.max(durationMs, 1)) {
    implausible = `${r.completionTokens} tokens in ${durationMs} ms is faster than the node's declared ${node.tokensPerSecond} tokens/s`;
  }
  let slaProblem: string | undefined;
  if (r.ttftMs > model.maxTtftMs) slaProblem = `time to first token ${r.ttftMs} ms over ${model.maxTtftMs} ms`;
  else if (r.completionTokens > 1 && generationMs > 0 && (r.completionTokens - 1) * 1000 < model.minTokensPerSecond * generationMs) {
    slaProblem = `${Math.round(((r.completionTokens - 1) * 1000) / generationMs)} tokens/s under ${model.minTokensPerSecond}`;
  }
  return { reportedBillable, withinSla: slaProblem === undefined, ...(implausible ? { implausible } : {}), ...(slaProblem ? { slaProblem } : {}) };
}

/** A counter total at a time. */
export interface CounterSample {
  readonly at: number;
  readonly value: number;
}

/**
 * How much a monotonic counter grew over samples in time order, counting a drop as a restart
 * (the counter began again from zero, so the whole new value is growth), as Prometheus's
 * `increase()` does.
 */
export function counterIncrease(samples: readonly CounterSample[]): number {
  let growth = 0;
  for (let i = 1; i < samples.length; i++) {
    const step = samples[i].value - samples[i - 1].value;
    growth += step >= 0 ? step : samples[i].value;
  }
  return growth;
}

/**
 * Reconciliation with the node's own counters: what the node reported for requests started after
 * the first sample may not exceed what its counters grew by since then, beyond 0.5 % (and 2
 * tokens). The tolerance is on the total, not per request, so a small inflation spread over many
 * requests still shows (1 % over 1,000 requests of 100 tokens is 1,000 tokens against 500). The
 * counters also count traffic that is not the exchange's, so honest reports are at most equal.
 */
export function countersDisagree(reportedTokens: number, counterGrowth: number): boolean {
  return beyondTolerance(BigInt(reportedTokens), BigInt(Math.floor(counterGrowth)));
}

/** Breach from failed and out-of-SLA requests: more than `thresholdBps` of a delivery's requests, and at least `minimum`. */
export function slaBreach(badRequests: number, requests: number, thresholdBps = 100, minimum = 3): boolean {
  return badRequests >= minimum && badRequests * 10_000 > requests * thresholdBps;
}

const maxBig = (a: bigint, b: bigint) => (a > b ? a : b);
