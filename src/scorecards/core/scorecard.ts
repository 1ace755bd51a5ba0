/**
 * The figures of a scorecard, from the merged aggregate of a window's buckets (docs/scorecards.md
 * explains each). Ratios are computed on integers and written as decimal strings, rounded half
 * up; money is micro-USD (bigint) written as USD with 6 decimals. Nothing here is a float.
 */
import { formatUsd } from '../../common/money.js';
import type { BucketAggregate } from './aggregate.js';
import { percentile } from './histogram.js';

export interface Scorecard {
  readonly requests: number;
  readonly failedRequests: number;
  readonly verifiedTokens: number;
  readonly outputTokens: number;
  /** p50 of each request's generation speed after its first token, tokens/s with 3 decimals. */
  readonly tokensPerSecondP50: string | null;
  readonly ttftMsP50: number | null;
  readonly ttftMsP99: number | null;
  readonly latencyMsP99: number | null;
  readonly slaMisses: number;
  readonly slaMissRate: string | null;
  /** USD paid per 1,000 verified completion tokens (prompt tokens' price included), 6 decimals. */
  readonly costPer1kOutputTokens: string | null;
  /** tokensPerSecondP50 per USD of price per million output tokens, 3 decimals. */
  readonly tokensPerSecondPerDollar: string | null;
  readonly probes: number;
  /** Share of the exchange's probes answered ok, 4 decimals. */
  readonly uptime: string | null;
  readonly deliveriesClosed: number;
  readonly deliveriesBreached: number;
  readonly breachRate: string | null;
  readonly disputesUpheld: number;
  /** Disputes upheld against the provider per verified request, 6 decimals. */
  readonly disputeRate: string | null;
}

/** num / den as a decimal string with `decimals` places, rounded half up; null when den is 0. */
export function ratio(num: bigint, den: bigint, decimals: number): string | null {
  if (den === 0n) return null;
  if (num < 0n || den < 0n) throw new RangeError('ratios here are of non-negative numbers');
  const scale = 10n ** BigInt(decimals);
  const scaled = (num * scale * 2n + den) / (2n * den);
  const whole = scaled / scale;
  if (decimals === 0) return whole.toString();
  return `${whole}.${(scaled % scale).toString().padStart(decimals, '0')}`;
}

/** n / d rounded half up, for money. */
const divRound = (n: bigint, d: bigint): bigint => (n * 2n + d) / (2n * d);

export function costPer1kOutputMicros(a: Pick<BucketAggregate, 'spendPico' | 'outputTokens'>): bigint | null {
  // spend in micro-USD is spendPico / 10^6; per 1,000 output tokens: × 1000 / output.
  return a.outputTokens === 0n ? null : divRound(a.spendPico, a.outputTokens * 1000n);
}

/** tokens/s ÷ (USD per million output tokens) = tpsMilli × output × 1000 / spendPico, as a fraction. */
export function tpsPerDollarFraction(a: BucketAggregate): { num: bigint; den: bigint } | null {
  const tps = percentile(a.tpsMilli, 5000);
  if (tps === null || a.spendPico === 0n || a.outputTokens === 0n) return null;
  return { num: BigInt(tps) * a.outputTokens * 1000n, den: a.spendPico };
}

export function scorecardOf(a: BucketAggregate): Scorecard {
  const tps = percentile(a.tpsMilli, 5000);
  const cost = costPer1kOutputMicros(a);
  const perDollar = tpsPerDollarFraction(a);
  return {
    requests: a.requests,
    failedRequests: a.failures,
    verifiedTokens: Number(a.verifiedTokens),
    outputTokens: Number(a.outputTokens),
    tokensPerSecondP50: tps === null ? null : ratio(BigInt(tps), 1000n, 3),
    ttftMsP50: percentile(a.ttftMs, 5000),
    ttftMsP99: percentile(a.ttftMs, 9900),
    latencyMsP99: percentile(a.latencyMs, 9900),
    slaMisses: a.slaMisses,
    slaMissRate: ratio(BigInt(a.slaMisses), BigInt(a.requests), 6),
    costPer1kOutputTokens: cost === null ? null : formatUsd(cost),
    tokensPerSecondPerDollar: perDollar === null ? null : ratio(perDollar.num, perDollar.den, 3),
    probes: a.probes,
    uptime: ratio(BigInt(a.probesOk), BigInt(a.probes), 4),
    deliveriesClosed: a.deliveriesClosed,
    deliveriesBreached: a.deliveriesBreached,
    breachRate: ratio(BigInt(a.deliveriesBreached), BigInt(a.deliveriesClosed), 6),
    disputesUpheld: a.disputesUpheld,
    disputeRate: ratio(BigInt(a.disputesUpheld), BigInt(a.requests), 6),
  };
}

/** a/b < c/d for non-negative fractions with positive denominators (0/0 is taken as 0). */
function compareFractions(an: bigint, ad: bigint, bn: bigint, bd: bigint): number {
  const [x, y] = [ad === 0n ? 0n : an * (bd === 0n ? 1n : bd), bd === 0n ? 0n : bn * (ad === 0n ? 1n : ad)];
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The league table's order, as a buyer would rank sellers: first whom it can trust (fewer
 * disputes upheld against it per request, then fewer breached deliveries), then who keeps the
 * SLA (fewer misses per request), then value (more tokens per second per dollar), then volume.
 * Exact: every comparison is of integer fractions.
 */
export function compareForBuyers(a: BucketAggregate, b: BucketAggregate): number {
  return (
    compareFractions(BigInt(a.disputesUpheld), BigInt(a.requests), BigInt(b.disputesUpheld), BigInt(b.requests)) ||
    compareFractions(BigInt(a.deliveriesBreached), BigInt(a.deliveriesClosed), BigInt(b.deliveriesBreached), BigInt(b.deliveriesClosed)) ||
    compareFractions(BigInt(a.slaMisses), BigInt(a.requests), BigInt(b.slaMisses), BigInt(b.requests)) ||
    compareValue(a, b) ||
    (a.verifiedTokens > b.verifiedTokens ? -1 : a.verifiedTokens < b.verifiedTokens ? 1 : 0)
  );
}

/** More tokens per second per dollar first; a scorecard without the figure after one with it. */
function compareValue(a: BucketAggregate, b: BucketAggregate): number {
  const [x, y] = [tpsPerDollarFraction(a), tpsPerDollarFraction(b)];
  if (!x || !y) return x ? -1 : y ? 1 : 0;
  return -compareFractions(x.num, x.den, y.num, y.den);
}
