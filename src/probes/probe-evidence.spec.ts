import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { probeEvidence, type ProbeEvidenceInput, type ProbeSample } from './probe-evidence.js';

const NODES = ['a', 'b', 'c'];

/** A window, an interval, and probes of up to three nodes around it (some before, some after). */
const scenario = fc
  .record({
    windowStart: fc.integer({ min: 0, max: 1_000_000 }),
    intervals: fc.integer({ min: 1, max: 60 }),
    extra: fc.integer({ min: 0, max: 999 }),
    probeIntervalMs: fc.integer({ min: 1, max: 2_000 }),
  })
  .chain(({ windowStart, intervals, extra, probeIntervalMs }) => {
    const windowEnd = windowStart + intervals * probeIntervalMs + extra;
    const sample = fc.record({
      nodeId: fc.constantFrom(...NODES),
      at: fc.integer({ min: windowStart - 3 * probeIntervalMs, max: windowEnd + probeIntervalMs }),
      ok: fc.boolean(),
    });
    return fc.record({
      windowStart: fc.constant(windowStart),
      windowEnd: fc.constant(windowEnd),
      probeIntervalMs: fc.constant(probeIntervalMs),
      samples: fc.array(sample, { maxLength: 80 }),
    });
  });

/** Probes of one node that leave no gap longer than the freshness limit, from before the window to its end. */
function coveringProbes(s: { windowStart: number; windowEnd: number; probeIntervalMs: number }, nodeId: string) {
  const fresh = 2 * s.probeIntervalMs;
  return fc
    .record({
      lead: fc.integer({ min: 0, max: fresh - 1 }),
      gaps: fc.infiniteStream(fc.integer({ min: 1, max: fresh })),
    })
    .map(({ lead, gaps }) => {
      const times: number[] = [];
      for (let at = s.windowStart - lead; at < s.windowEnd; at += gaps.next().value) times.push(at);
      return times.map((at): ProbeSample => ({ nodeId, at, ok: false }));
    });
}

const down = (input: ProbeEvidenceInput) => probeEvidence(input).downMs;

describe('provider down time from probes', () => {
  test('down time is within the window: a fraction in [0, 1]', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const v = probeEvidence(s);
        expect(v.windowMs).toBe(s.windowEnd - s.windowStart);
        expect(v.downMs).toBeGreaterThanOrEqual(0);
        expect(v.downMs).toBeLessThanOrEqual(v.windowMs);
        expect(v.failedProbes).toBeLessThanOrEqual(v.probes);
      }),
    );
  });

  test('agrees with a naive reference that looks at every millisecond', () => {
    const small = fc
      .record({ windowStart: fc.integer({ min: -50, max: 50 }), windowMs: fc.integer({ min: 0, max: 400 }), probeIntervalMs: fc.integer({ min: 1, max: 60 }) })
      .chain(({ windowStart, windowMs, probeIntervalMs }) =>
        fc.record({
          windowStart: fc.constant(windowStart),
          windowEnd: fc.constant(windowStart + windowMs),
          probeIntervalMs: fc.constant(probeIntervalMs),
          samples: fc.array(
            fc.record({ nodeId: fc.constantFrom(...NODES), at: fc.integer({ min: windowStart - 150, max: windowStart + windowMs }), ok: fc.boolean() }),
            { maxLength: 30 },
          ),
        }),
      );
    fc.assert(
      fc.property(small, (s) => {
        let expected = 0;
        for (let x = s.windowStart; x < s.windowEnd; x++) {
          const fresh = NODES.map((n) => {
            const past = s.samples.filter((p) => p.nodeId === n && p.at <= x);
            const latestAt = Math.max(...past.map((p) => p.at));
            if (past.length === 0 || x - latestAt >= 2 * s.probeIntervalMs) return undefined;
            return past.some((p) => p.at === latestAt && p.ok);
          }).filter((ok) => ok !== undefined);
          if (fresh.length > 0 && !fresh.includes(true)) expected++;
        }
        expect(down(s)).toBe(expected);
      }),
    );
  });

  test('no probes: never down, never a breach', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        expect(probeEvidence({ ...s, samples: [] })).toMatchObject({ probes: 0, failedProbes: 0, downMs: 0, breach: false });
      }),
    );
  });

  test('every probe ok: never down', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const v = probeEvidence({ ...s, samples: s.samples.map((p) => ({ ...p, ok: true })) });
        expect(v).toMatchObject({ failedProbes: 0, downMs: 0, breach: false });
      }),
    );
  });

  test('every probe failing, with no gap in coverage: down for the whole window', () => {
    const covered = scenario.chain((s) =>
      fc
        .subarray(NODES, { minLength: 1 })
        .chain((nodes) => fc.tuple(...nodes.map((n) => coveringProbes(s, n))))
        .map((lists) => ({ ...s, samples: lists.flat() })),
    );
    fc.assert(
      fc.property(covered, (s) => {
        const v = probeEvidence(s);
        expect(v.downMs).toBe(v.windowMs);
        expect(v.breach).toBe(v.windowMs > 0);
      }),
    );
  });

  test('adding an ok probe never increases down time', () => {
    const withExtra = scenario.chain((s) =>
      fc
        .record({
          nodeId: fc.constantFrom(...NODES),
          at: fc.oneof(
            fc.integer({ min: s.windowStart - 3 * s.probeIntervalMs, max: s.windowEnd }),
            // the same millisecond as an existing probe, where ties matter
            s.samples.length > 0 ? fc.constantFrom(...s.samples.map((p) => p.at)) : fc.constant(s.windowStart),
          ),
        })
        .map((extra) => ({ s, extra: { ...extra, ok: true } })),
    );
    fc.assert(
      fc.property(withExtra, ({ s, extra }) => {
        expect(down({ ...s, samples: [...s.samples, extra] })).toBeLessThanOrEqual(down(s));
      }),
    );
  });

  test('more nodes ok never increases down time: failures turned ok, or another healthy node', () => {
    const changed = scenario.chain((s) =>
      fc.record({
        flips: fc.array(fc.boolean(), { minLength: s.samples.length, maxLength: s.samples.length }),
        healthy: fc.array(fc.integer({ min: s.windowStart - 3 * s.probeIntervalMs, max: s.windowEnd }), { maxLength: 20 }),
      }).map(({ flips, healthy }) => ({ s, flips, healthy })),
    );
    fc.assert(
      fc.property(changed, ({ s, flips, healthy }) => {
        const before = down(s);
        const flipped = s.samples.map((p, i) => ({ ...p, ok: p.ok || flips[i] }));
        expect(down({ ...s, samples: flipped })).toBeLessThanOrEqual(before);
        const another = healthy.map((at): ProbeSample => ({ nodeId: 'new', at, ok: true }));
        expect(down({ ...s, samples: [...s.samples, ...another] })).toBeLessThanOrEqual(before);
      }),
    );
  });
});

describe('examples', () => {
  const window = { windowStart: 0, windowEnd: 100_000, probeIntervalMs: 1_000 };
  const everySecond = (nodeId: string, ok: (at: number) => boolean): ProbeSample[] =>
    Array.from({ length: 100 }, (_, i) => ({ nodeId, at: i * 1_000, ok: ok(i * 1_000) }));

  test('exactly 1 % down is not a breach; a millisecond more is', () => {
    const exactly = everySecond('a', (at) => at !== 50_000);
    expect(probeEvidence({ ...window, samples: exactly })).toMatchObject({ probes: 100, failedProbes: 1, downMs: 1_000, breach: false });
    // the next ok answer a millisecond later
    const more = exactly.map((p) => (p.at === 51_000 ? { ...p, at: 51_001 } : p));
    expect(probeEvidence({ ...window, samples: more })).toMatchObject({ downMs: 1_001, breach: true });
  });

  test('a provider is up while any of its nodes is', () => {
    const samples = [...everySecond('a', () => false), ...everySecond('b', (at) => at < 30_000)];
    expect(probeEvidence({ ...window, samples })).toMatchObject({ downMs: 70_000, breach: true });
  });

  test("a gap in the exchange's probing is not blamed on the provider beyond the freshness limit", () => {
    // one failed probe, then the prober was away for the rest of the window
    const samples = [...everySecond('a', () => true).filter((p) => p.at < 10_000), { nodeId: 'a', at: 10_000, ok: false }];
    expect(probeEvidence({ ...window, samples })).toMatchObject({ downMs: 2_000, breach: true });
  });

  test('a probe from before the window covers its first instants', () => {
    expect(probeEvidence({ ...window, samples: [{ nodeId: 'a', at: -500, ok: false }] }).downMs).toBe(1_500);
  });

  test('a failure and an ok answer of the same node at the same instant count as ok', () => {
    const samples = [
      { nodeId: 'a', at: 0, ok: false },
      { nodeId: 'a', at: 0, ok: true },
    ];
    expect(probeEvidence({ ...window, samples }).downMs).toBe(0);
  });

  test('a custom threshold', () => {
    const samples = everySecond('a', (at) => at >= 5_000); // 5 % down
    expect(probeEvidence({ ...window, samples, thresholdBps: 500 }).breach).toBe(false);
    expect(probeEvidence({ ...window, samples, thresholdBps: 499 }).breach).toBe(true);
  });
});
