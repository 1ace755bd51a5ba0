/**
 * What a scorecard is made of: per bucket (node, model class, 5 minutes; or provider, model class,
 * 5 minutes for deliveries), sums and exact histograms that merge by addition, so any window's
 * figures are a merge of its buckets (core/windows.ts) and a fold can add new records to old
 * buckets at any time. Money stays exact: `spendPico` is the sum of verified tokens times the
 * price actually paid in micro-USD per million tokens, so it is in millionths of a micro-USD.
 */
import { addValue, emptyHistogram, type Histogram } from './histogram.js';

export interface BucketAggregate {
  /** Verified requests (successful or failed) folded in. */
  readonly requests: number;
  readonly failures: number;
  /** Requests the verification found out of the model class's SLA (TTFT or speed). */
  readonly slaMisses: number;
  /** Completion tokens of verified usage. */
  readonly outputTokens: bigint;
  /** Verified billable tokens (completion + weighted prompt), including disputed tokens resolved for the provider. */
  readonly verifiedTokens: bigint;
  /** Σ verified tokens × price paid (micro-USD per million tokens): micro-USD × 10^6. */
  readonly spendPico: bigint;
  /** Time to first token, ms → count, of successful requests. */
  readonly ttftMs: Histogram;
  /** End-to-end latency (finish − start), ms → count, of successful requests. */
  readonly latencyMs: Histogram;
  /** Generation speed after the first token, floor(milli-tokens per second) → count. */
  readonly tpsMilli: Histogram;
  readonly probes: number;
  readonly probesOk: number;
  /** Disputes resolved against the provider (for the buyer, or a split that took tokens from it). */
  readonly disputesUpheld: number;
  /** Deliveries closed, and closed in breach (provider buckets only). */
  readonly deliveriesClosed: number;
  readonly deliveriesBreached: number;
}

export const EMPTY_AGGREGATE: BucketAggregate = {
  requests: 0,
  failures: 0,
  slaMisses: 0,
  outputTokens: 0n,
  verifiedTokens: 0n,
  spendPico: 0n,
  ttftMs: new Map(),
  latencyMs: new Map(),
  tpsMilli: new Map(),
  probes: 0,
  probesOk: 0,
  disputesUpheld: 0,
  deliveriesClosed: 0,
  deliveriesBreached: 0,
};

export const mergeAggregates = (...parts: readonly BucketAggregate[]): BucketAggregate => mergeAll(parts);

/** The sum of any number of aggregates, in one pass (a fold merges thousands of requests into a bucket). */
export function mergeAll(parts: readonly BucketAggregate[]): BucketAggregate {
  const ttftMs = new Map<number, number>();
  const latencyMs = new Map<number, number>();
  const tps = new Map<number, number>();
  const sum = { requests: 0, failures: 0, slaMisses: 0, outputTokens: 0n, verifiedTokens: 0n, spendPico: 0n, probes: 0, probesOk: 0, disputesUpheld: 0, deliveriesClosed: 0, deliveriesBreached: 0 };
  for (const p of parts) {
    sum.requests += p.requests;
    sum.failures += p.failures;
    sum.slaMisses += p.slaMisses;
    sum.outputTokens += p.outputTokens;
    sum.verifiedTokens += p.verifiedTokens;
    sum.spendPico += p.spendPico;
    sum.probes += p.probes;
    sum.probesOk += p.probesOk;
    sum.disputesUpheld += p.disputesUpheld;
    sum.deliveriesClosed += p.deliveriesClosed;
    sum.deliveriesBreached += p.deliveriesBreached;
    for (const [v, c] of p.ttftMs) addValue(ttftMs, v, c);
    for (const [v, c] of p.latencyMs) addValue(latencyMs, v, c);
    for (const [v, c] of p.tpsMilli) addValue(tps, v, c);
  }
  return { ...sum, ttftMs, latencyMs, tpsMilli: tps };
}

/** The items' aggregates merged per key (each group in one pass of mergeAll). */
export function mergePerKey<T>(items: Iterable<T>, keyOf: (item: T) => string, aggregateOf: (item: T) => BucketAggregate): Map<string, BucketAggregate> {
  const groups = new Map<string, BucketAggregate[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(aggregateOf(item));
    else groups.set(key, [aggregateOf(item)]);
  }
  return new Map([...groups].map(([key, parts]) => [key, mergeAll(parts)]));
}

/** One request that counts: verified, or disputed and resolved (with what was accepted of it). */
export interface RequestSample {
  readonly finishedAt: number;
  readonly status: 'ok' | 'error';
  /** The verification's SLA verdict; null when not judged (a failed request). */
  readonly withinSla: boolean | null;
  readonly ttftMs: number;
  /** finish − start, ms. */
  readonly latencyMs: number;
  readonly completionTokens: number;
  /** Billable tokens accepted as delivered. */
  readonly acceptedTokens: bigint;
  /** Completion tokens accepted as delivered. */
  readonly acceptedOutputTokens: bigint;
  /** The delivery's price: micro-USD per million tokens (notional × 10^6 / quantity). */
  readonly priceMicrosPerMTok: bigint;
}

/**
 * Generation speed after the first token, as verification judges the SLA: (completion − 1) tokens
 * over (latency − TTFT), floored to milli-tokens per second; undefined when it is not defined (one
 * token or none, or no time after the first).
 */
export function tpsMilli(s: Pick<RequestSample, 'completionTokens' | 'latencyMs' | 'ttftMs'>): number | undefined {
  const generationMs = s.latencyMs - s.ttftMs;
  if (s.completionTokens <= 1 || generationMs <= 0) return undefined;
  return Number((BigInt(s.completionTokens - 1) * 1_000_000n) / BigInt(generationMs));
}

export function requestAggregate(s: RequestSample): BucketAggregate {
  const ok = s.status === 'ok';
  const tps = ok ? tpsMilli(s) : undefined;
  return {
    ...EMPTY_AGGREGATE,
    requests: 1,
    failures: ok ? 0 : 1,
    slaMisses: s.withinSla === false ? 1 : 0,
    outputTokens: s.acceptedOutputTokens,
    verifiedTokens: s.acceptedTokens,
    spendPico: s.acceptedTokens * s.priceMicrosPerMTok,
    ttftMs: ok ? addValue(emptyHistogram(), s.ttftMs) : new Map(),
    latencyMs: ok ? addValue(emptyHistogram(), s.latencyMs) : new Map(),
    tpsMilli: tps === undefined ? new Map() : addValue(emptyHistogram(), tps),
  };
}

/**
 * What a resolved dispute accepts of each record it held, in the order given: the record's
 * tokens already billed, plus the provider's share of the dispute handed out record by record up
 * to what each reported (a record-level dispute holds one record, so it gets the whole share).
 * Completion tokens: all the node reported when the record is accepted whole; otherwise the
 * exchange's own count (the buyer's report) plus the same part of the excess the provider was
 * given; with no count of its own, the reported ones in proportion to the tokens accepted. Rounded down.
 */
export function acceptHeld(
  records: ReadonlyArray<{ readonly reportedBillable: bigint; readonly billable: bigint; readonly completionTokens: number; readonly countedCompletion?: number | null }>,
  providerTokens: bigint,
): Array<{ acceptedTokens: bigint; acceptedOutputTokens: bigint }> {
  let left = providerTokens;
  return records.map((r) => {
    const room = r.reportedBillable > r.billable ? r.reportedBillable - r.billable : 0n;
    const share = left < room ? left : room;
    left -= share;
    const acceptedTokens = r.billable + share;
    const completion = BigInt(r.completionTokens);
    let acceptedOutputTokens: bigint;
    if (r.reportedBillable <= 0n || acceptedTokens >= r.reportedBillable) acceptedOutputTokens = completion;
    else if (r.countedCompletion !== undefined && r.countedCompletion !== null && BigInt(r.countedCompletion) <= completion) {
      const counted = BigInt(r.countedCompletion);
      acceptedOutputTokens = counted + (room === 0n ? 0n : ((completion - counted) * share) / room);
    } else acceptedOutputTokens = (completion * acceptedTokens) / r.reportedBillable;
    return { acceptedTokens, acceptedOutputTokens };
  });
}

/** Whether an admin's resolution upheld the dispute against the provider (it lost tokens, or the evidence stood). */
export function upheldAgainstProvider(resolution: 'provider' | 'buyer' | 'split', tokens: bigint, providerTokens: bigint | null): boolean {
  if (resolution === 'buyer') return true;
  if (resolution === 'split') return (providerTokens ?? 0n) < tokens;
  return false;
}
