import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import {
  acceptHeld,
  addValue,
  BUCKET_MS,
  bucketStart,
  compareForBuyers,
  costPer1kOutputMicros,
  EMPTY_AGGREGATE,
  emptyHistogram,
  histogramFromJson,
  histogramToJson,
  inWindow,
  mergeAggregates,
  mergeAll,
  mergeHistograms,
  mergePerKey,
  percentile,
  ratio,
  requestAggregate,
  type RequestSample,
  scorecardOf,
  WINDOW_NAMES,
  windowRange,
  WINDOWS,
} from './index.js';

/** The reference: sort every sample, take the nearest rank. */
function sortedPercentile(values: number[], bps: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((bps * sorted.length) / 10_000) - 1];
}

const histogramOf = (values: number[]) => values.reduce((h, v) => addValue(h, v), emptyHistogram());
const values = fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 200 });
const bps = fc.integer({ min: 1, max: 10_000 });

describe('percentiles', () => {
  test('are exact: the histogram gives what sorting every sample gives', () => {
    fc.assert(fc.property(values, bps, (vs, p) => expect(percentile(histogramOf(vs), p)).toBe(sortedPercentile(vs, p))));
  });

  test('merging buckets in any split gives the percentile of all their samples', () => {
    fc.assert(
      fc.property(fc.array(values, { maxLength: 6 }), bps, (parts, p) => {
        const merged = mergeHistograms(...parts.map(histogramOf));
        expect(percentile(merged, p)).toBe(sortedPercentile(parts.flat(), p));
      }),
    );
  });

  test('survive the jsonb round trip', () => {
    fc.assert(fc.property(values, (vs) => expect(histogramFromJson(JSON.parse(JSON.stringify(histogramToJson(histogramOf(vs)))))).toEqual(histogramOf(vs))));
  });

  test('known values: p50 and p99 of 1..100', () => {
    const h = histogramOf(Array.from({ length: 100 }, (_, i) => i + 1));
    expect([percentile(h, 5000), percentile(h, 9900), percentile(h, 10_000), percentile(h, 1)]).toEqual([50, 99, 100, 1]);
    expect(percentile(emptyHistogram(), 5000)).toBeNull();
    expect(() => percentile(h, 0)).toThrow(RangeError);
  });
});

describe('windows', () => {
  const instant = fc.integer({ min: 1_700_000_000_000, max: 1_900_000_000_000 });

  test('a sample counts iff its bucket is among the window’s L / 5 minutes of buckets ending with the current one', () => {
    fc.assert(
      fc.property(instant, fc.integer({ min: -40 * 86_400_000, max: 86_400_000 }), fc.constantFrom(...WINDOW_NAMES), (at, offset, w) => {
        const t = at + offset;
        const range = windowRange(w, at);
        const buckets = (bucketStart(at) - bucketStart(t)) / BUCKET_MS; // whole buckets back from the current one
        expect(inWindow(range, t)).toBe(buckets >= 0 && buckets < WINDOWS[w] / BUCKET_MS);
      }),
    );
  });

  test('boundaries: the first instant of the oldest bucket is in, the instant before it is out; the next bucket is out', () => {
    const at = Date.UTC(2026, 11, 4, 17, 2, 30);
    const range = windowRange('1h', at);
    expect(new Date(range.firstBucket).toISOString()).toBe('2026-12-04T16:05:00.000Z');
    expect(inWindow(range, range.firstBucket)).toBe(true);
    expect(inWindow(range, range.firstBucket - 1)).toBe(false);
    expect(inWindow(range, Date.UTC(2026, 11, 4, 17, 4, 59, 999))).toBe(true);
    expect(inWindow(range, Date.UTC(2026, 11, 4, 17, 5))).toBe(false);
  });

  test('bucketStart is the 5-minute floor, also before 1970', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e13, max: 1e13 }), (t) => {
        const b = bucketStart(t);
        expect(b <= t && t - b < BUCKET_MS && b % BUCKET_MS === 0).toBe(true);
      }),
    );
  });
});

const sample = fc.record({
  finishedAt: fc.constant(0),
  status: fc.constantFrom('ok' as const, 'error' as const),
  withinSla: fc.constantFrom(true, false, null),
  ttftMs: fc.integer({ min: 0, max: 5_000 }),
  latencyMs: fc.integer({ min: 0, max: 60_000 }),
  completionTokens: fc.integer({ min: 0, max: 4_000 }),
  acceptedTokens: fc.bigInt({ min: 0n, max: 10_000n }),
  acceptedOutputTokens: fc.bigInt({ min: 0n, max: 4_000n }),
  priceMicrosPerMTok: fc.bigInt({ min: 1n, max: 1_000_000_000n }),
}) satisfies fc.Arbitrary<RequestSample>;

describe('ratios with exact money', () => {
  test('cost per 1,000 output tokens is the spend, to the nearest micro-USD, however the samples are bucketed', () => {
    fc.assert(
      fc.property(fc.array(sample, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 5 }), (samples, parts) => {
        const buckets = Array.from({ length: parts }, (_, i) => mergeAggregates(...samples.filter((_, j) => j % parts === i).map(requestAggregate)));
        const all = mergeAggregates(...buckets);
        const spend = samples.reduce((s, x) => s + x.acceptedTokens * x.priceMicrosPerMTok, 0n);
        const output = samples.reduce((s, x) => s + x.acceptedOutputTokens, 0n);
        expect(all.spendPico).toBe(spend);
        const cost = costPer1kOutputMicros(all);
        if (output === 0n) return expect(cost).toBeNull();
        // |cost − spend / (1000 · output)| ≤ 1/2 micro-USD, in integers.
        const error = cost! * 2000n * output - 2n * spend;
        expect(error <= 1000n * output && error >= -1000n * output).toBe(true);
        expect(scorecardOf(all)).toEqual(scorecardOf(mergeAggregates(...samples.map(requestAggregate))));
      }),
    );
  });

  test('merged per key, each key holds exactly the merge of its own samples', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), sample), { maxLength: 40 }), (keyed) => {
        const perKey = mergePerKey(keyed, ([key]) => key, ([, s]) => requestAggregate(s));
        expect([...perKey.keys()].sort()).toEqual([...new Set(keyed.map(([key]) => key))].sort());
        for (const [key, merged] of perKey) expect(merged).toEqual(mergeAll(keyed.filter(([k]) => k === key).map(([, s]) => requestAggregate(s))));
      }),
    );
  });

  test('one price: 1,000 output tokens at 0.500 USD/MTok cost 0.000500 USD; with prompt tokens, more', () => {
    const s: RequestSample = { finishedAt: 0, status: 'ok', withinSla: true, ttftMs: 200, latencyMs: 2_200, completionTokens: 1_001, acceptedTokens: 1_000n, acceptedOutputTokens: 1_000n, priceMicrosPerMTok: 500_000n };
    expect(scorecardOf(requestAggregate(s))).toMatchObject({ costPer1kOutputTokens: '0.000500', tokensPerSecondP50: '500.000', tokensPerSecondPerDollar: '1000.000' });
    const withPrompt = { ...s, acceptedTokens: 1_100n };
    expect(scorecardOf(requestAggregate(withPrompt)).costPer1kOutputTokens).toBe('0.000550');
  });

  test('ratio rounds half up and never uses floats', () => {
    expect(ratio(1n, 3n, 4)).toBe('0.3333');
    expect(ratio(2n, 3n, 4)).toBe('0.6667');
    expect(ratio(1n, 8n, 2)).toBe('0.13');
    expect(ratio(5n, 1n, 0)).toBe('5');
    expect(ratio(1n, 0n, 2)).toBeNull();
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.bigInt({ min: 1n, max: 10n ** 30n }), fc.integer({ min: 0, max: 8 }), (n, d, k) => {
        const [whole, frac = ''] = ratio(n, d, k)!.split('.');
        const scaled = BigInt(whole + frac);
        // scaled / 10^k is within half a unit of n / d.
        const diff = 2n * scaled * d - 2n * n * 10n ** BigInt(k);
        expect(diff <= d && diff > -d).toBe(true);
      }),
    );
  });

  test('a dispute resolved accepts at most what was held, and the billed part always', () => {
    const held = fc.array(
      fc.record({ reportedBillable: fc.bigInt({ min: 0n, max: 1_000n }), billable: fc.bigInt({ min: 0n, max: 1_000n }), completionTokens: fc.integer({ min: 0, max: 1_000 }), countedCompletion: fc.option(fc.integer({ min: 0, max: 1_000 })) }),
      { maxLength: 10 },
    );
    fc.assert(
      fc.property(held, fc.bigInt({ min: 0n, max: 20_000n }), (records, providerTokens) => {
        const accepted = acceptHeld(records, providerTokens);
        const room = records.reduce((s, r) => s + (r.reportedBillable > r.billable ? r.reportedBillable - r.billable : 0n), 0n);
        const handed = accepted.reduce((s, a, i) => s + a.acceptedTokens - records[i].billable, 0n);
        expect(handed).toBe(providerTokens < room ? providerTokens : room);
        accepted.forEach((a, i) => {
          expect(a.acceptedTokens >= records[i].billable).toBe(true);
          expect(a.acceptedOutputTokens <= BigInt(records[i].completionTokens)).toBe(true);
        });
      }),
    );
  });
});

describe('scorecards', () => {
  test('a bucket of 100,000 requests merges in one pass (no copies per request, no spread of arguments)', () => {
    const parts = Array.from({ length: 100_000 }, (_, i) =>
      requestAggregate({ finishedAt: 0, status: 'ok', withinSla: i % 10 !== 0, ttftMs: i % 1000, latencyMs: 1000 + (i % 1000), completionTokens: 101, acceptedTokens: 200n, acceptedOutputTokens: 100n, priceMicrosPerMTok: 500_000n }),
    );
    const started = Date.now();
    const merged = mergeAll(parts);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(scorecardOf(merged)).toMatchObject({ requests: 100_000, slaMisses: 10_000, ttftMsP50: 499, ttftMsP99: 989, verifiedTokens: 20_000_000, costPer1kOutputTokens: '0.001000' });
  });

  test('empty: no figures that divide by nothing', () => {
    expect(scorecardOf(EMPTY_AGGREGATE)).toMatchObject({ requests: 0, tokensPerSecondP50: null, ttftMsP50: null, costPer1kOutputTokens: null, uptime: null, breachRate: null, disputeRate: null });
  });

  test('the buyer’s order is a total preorder: antisymmetric and transitive', () => {
    const aggregate = fc.array(sample, { maxLength: 5 }).chain((samples) =>
      fc.record({ disputesUpheld: fc.integer({ min: 0, max: 3 }), deliveriesClosed: fc.integer({ min: 0, max: 3 }), breached: fc.integer({ min: 0, max: 3 }) }).map((extra) => ({
        ...mergeAggregates(...samples.map(requestAggregate)),
        disputesUpheld: extra.disputesUpheld,
        deliveriesClosed: extra.deliveriesClosed + extra.breached,
        deliveriesBreached: extra.breached,
      })),
    );
    fc.assert(
      fc.property(aggregate, aggregate, aggregate, (a, b, c) => {
        expect(Math.sign(compareForBuyers(a, b))).toBe(-Math.sign(compareForBuyers(b, a)) || 0);
        if (compareForBuyers(a, b) <= 0 && compareForBuyers(b, c) <= 0) expect(compareForBuyers(a, c)).toBeLessThanOrEqual(0);
      }),
    );
  });
});
