/**
 * Time buckets and windows. Aggregates are kept per 5-minute bucket (a bucket holds the samples
 * whose time t has bucketStart(t) = its start); a window of length L at instant `at` is the L / 5
 * minutes' buckets that end with the one holding `at`:
 *
 *   a sample at t is in the window iff bucketStart(at) - L < bucketStart(t) <= bucketStart(at)
 *
 * so the last hour is the current bucket (what has happened of it) and the 11 whole buckets
 * before it: between 55 and 60 minutes of the past, depending on where `at` falls in its bucket.
 */
export const BUCKET_MS = 5 * 60_000;

export const WINDOWS = { '1h': 3_600_000, '24h': 86_400_000, '30d': 30 * 86_400_000 } as const;
export type WindowName = keyof typeof WINDOWS;
export const WINDOW_NAMES = Object.keys(WINDOWS) as WindowName[];

export const bucketStart = (t: number): number => t - (((t % BUCKET_MS) + BUCKET_MS) % BUCKET_MS);

/** The window's buckets: those with `firstBucket <= start <= lastBucket`. */
export interface WindowRange {
  readonly firstBucket: number;
  readonly lastBucket: number;
  readonly at: number;
}

export function windowRange(window: WindowName, at: number): WindowRange {
  const lastBucket = bucketStart(at);
  return { firstBucket: lastBucket - WINDOWS[window] + BUCKET_MS, lastBucket, at };
}

/** Whether a sample at `t` counts in the window (the rule above). */
export function inWindow(range: WindowRange, t: number): boolean {
  const b = bucketStart(t);
  return b >= range.firstBucket && b <= range.lastBucket;
}
