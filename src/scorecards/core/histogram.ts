/**
 * Exact percentiles from counts of integer values. A histogram maps each value seen (milliseconds,
 * milli-tokens per second) to how many samples had it, so histograms of separate buckets merge by
 * adding counts, and a percentile over any set of buckets is exact: the same value a sort of every
 * sample would give. No sketch, no interpolation.
 *
 * Percentiles are nearest-rank: the p-th percentile of n samples is the smallest value v with at
 * least ceil(p * n / 100) samples at or below v (p in basis points here: 5000 = p50, 9900 = p99).
 * A monotone rounding of the samples (floor to a whole millisecond) commutes with it, so the
 * percentile of rounded samples is the rounded percentile.
 */
export type Histogram = ReadonlyMap<number, number>;

export const emptyHistogram = (): Map<number, number> => new Map();

export function addValue(h: Map<number, number>, value: number, count = 1): Map<number, number> {
  h.set(value, (h.get(value) ?? 0) + count);
  return h;
}

export function mergeHistograms(...hs: Histogram[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const h of hs) for (const [v, c] of h) addValue(out, v, c);
  return out;
}

export function histogramCount(h: Histogram): number {
  let n = 0;
  for (const c of h.values()) n += c;
  return n;
}

/** The nearest-rank percentile `bps` (1..10000) of the samples; null when there are none. */
export function percentile(h: Histogram, bps: number): number | null {
  if (!Number.isInteger(bps) || bps < 1 || bps > 10_000) throw new RangeError('percentile is in basis points, 1 to 10000');
  const n = histogramCount(h);
  if (n === 0) return null;
  // ceil(bps * n / 10000) in integers: the rank of the sample that is the percentile.
  const rank = Math.floor((bps * n + 9_999) / 10_000);
  const values = [...h.keys()].sort((a, b) => a - b);
  let seen = 0;
  for (const v of values) {
    seen += h.get(v)!;
    if (seen >= rank) return v;
  }
  return values[values.length - 1];
}

/** As stored in a jsonb column: `{ "<value>": count }`. */
export function histogramToJson(h: Histogram): Record<string, number> {
  return Object.fromEntries([...h].sort(([a], [b]) => a - b).map(([v, c]) => [String(v), c]));
}

export function histogramFromJson(json: Record<string, number> | null | undefined): Map<number, number> {
  const h = new Map<number, number>();
  for (const [v, c] of Object.entries(json ?? {})) addValue(h, Number(v), Number(c));
  return h;
}
