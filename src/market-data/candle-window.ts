import { invalid } from '../common/domain-error.js';

/** Candle widths in seconds. Buckets are aligned on the Unix epoch, so on UTC boundaries. */
export const CANDLE_INTERVALS = { '1m': 60, '5m': 300, '15m': 900, '1h': 3600, '4h': 14_400, '1d': 86_400 } as const;
export type CandleInterval = keyof typeof CANDLE_INTERVALS;
export const MAX_CANDLES = 1000;

/** The time range of a candle query: `from` on a bucket start, `to` exclusive, at most `limit` buckets apart. */
export interface CandleWindow {
  readonly seconds: number;
  readonly from: Date;
  readonly to: Date;
  readonly limit: number;
}

/**
 * Resolves `from`/`to`/`limit` into a bounded range, so the query never reads more than `limit`
 * buckets of fills: `from` is rounded down to its bucket (a first candle cut in half would show a
 * wrong open); without `from`, the range is the `limit` buckets that end with the one holding `to`.
 */
export function candleWindow(interval: CandleInterval, query: { from?: string; to?: string; limit?: number }, now: Date): CandleWindow {
  const seconds = CANDLE_INTERVALS[interval];
  const step = seconds * 1000;
  const limit = query.limit ?? MAX_CANDLES;
  const to = query.to === undefined ? now.getTime() : Date.parse(query.to);
  if (Number.isNaN(to)) throw invalid('VALIDATION_FAILED', 'to must be an ISO 8601 timestamp', { fields: ['to'] });
  let from: number;
  if (query.from === undefined) {
    const lastBucket = Math.floor((to - 1) / step) * step;
    from = lastBucket - (limit - 1) * step;
  } else {
    const parsed = Date.parse(query.from);
    if (Number.isNaN(parsed)) throw invalid('VALIDATION_FAILED', 'from must be an ISO 8601 timestamp', { fields: ['from'] });
    from = Math.floor(parsed / step) * step;
  }
  if (from >= to) throw invalid('VALIDATION_FAILED', 'from must be before to', { fields: ['from'] });
  return { seconds, from: new Date(from), to: new Date(Math.min(to, from + limit * step)), limit };
}
