import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { IngestThrottle, type IngestThrottleOptions } from './ingest-throttle.js';

const OPTIONS: IngestThrottleOptions = { targetMs: 20, intervalMs: 100, minRate: 1_000, maxRate: 50_000, growth: 0.1, maxWaitMs: 2_000 };

/** What happens to a throttle: time passes, an order batch reports its latency, or records ask to be admitted. */
type Step = { kind: 'pass'; ms: number } | { kind: 'observe'; latencyMs: number } | { kind: 'admit'; records: number };
const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('pass' as const), ms: fc.integer({ min: 0, max: 400 }) }),
  fc.record({ kind: fc.constant('observe' as const), latencyMs: fc.integer({ min: 0, max: 200 }) }),
  fc.record({ kind: fc.constant('admit' as const), records: fc.integer({ min: 1, max: 5_000 }) }),
);

/** A throttle driven to its floor: slow order batches while ingest runs, interval after interval. */
function atTheFloor(start: number): { throttle: IngestThrottle; now: number } {
  let now = start;
  const throttle = new IngestThrottle(OPTIONS, now);
  while (throttle.recordsPerSecond > OPTIONS.minRate) {
    throttle.admit(1, now);
    throttle.observe(60, (now += OPTIONS.intervalMs));
  }
  return { throttle, now };
}

describe('the ingest throttle', () => {
  test('its rate stays between the floor and the ceiling, and no wait it grants is longer than the longest allowed', () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { maxLength: 300 }), (steps) => {
        let now = 1_000;
        const throttle = new IngestThrottle(OPTIONS, now);
        for (const step of steps) {
          if (step.kind === 'pass') now += step.ms;
          else if (step.kind === 'observe') throttle.observe(step.latencyMs, now);
          else {
            const wait = throttle.admit(step.records, now);
            if (wait !== undefined) expect(wait).toBeLessThanOrEqual(OPTIONS.maxWaitMs);
          }
          expect(throttle.recordsPerSecond).toBeGreaterThanOrEqual(OPTIONS.minRate);
          expect(throttle.recordsPerSecond).toBeLessThanOrEqual(OPTIONS.maxRate);
        }
      }),
    );
  });

  test('at a fixed rate, batches go no faster than the rate pays for the ones before them, after one burst', () => {
    const fixed = { ...OPTIONS, minRate: 10_000, maxRate: 10_000 };
    const burst = (fixed.maxRate * fixed.intervalMs) / 1000;
    fc.assert(
      fc.property(fc.array(stepArbitrary, { maxLength: 300 }), (steps) => {
        const start = 1_000;
        let now = start;
        const throttle = new IngestThrottle(fixed, now);
        let admitted = 0;
        for (const step of steps) {
          if (step.kind === 'pass') now += step.ms;
          else if (step.kind === 'observe') throttle.observe(step.latencyMs, now);
          else {
            const wait = throttle.admit(step.records, now);
            if (wait === undefined) continue;
            // Everything admitted before this batch has been paid for by the time it goes.
            expect(admitted).toBeLessThanOrEqual(burst + (fixed.maxRate * (now + wait - start)) / 1000 + 1e-6);
            admitted += step.records;
          }
        }
      }),
    );
  });

  test('a refused batch takes nothing: the next one is admitted as if it had never come', () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { maxLength: 100 }), fc.integer({ min: 1, max: 5_000 }), (steps, next) => {
        let now = 1_000;
        const [a, b] = [new IngestThrottle(OPTIONS, now), new IngestThrottle(OPTIONS, now)];
        for (const step of steps) {
          if (step.kind === 'pass') now += step.ms;
          else if (step.kind === 'observe') [a, b].forEach((t) => t.observe(step.latencyMs, now));
          else [a, b].forEach((t) => t.admit(step.records, now));
        }
        fc.pre(a.admit(next, now) === undefined); // only where the bucket owes more than the longest wait
        b.admit(0, now);
        expect(a.owedMs).toBe(b.owedMs);
        expect(a.admit(1, now + OPTIONS.maxWaitMs)).toEqual(b.admit(1, now + OPTIONS.maxWaitMs));
      }),
    );
  });

  test('it starts at the floor; calm intervals it could use raise it; slow order batches while ingest runs halve it; unused, it holds', () => {
    let now = 0;
    const throttle = new IngestThrottle(OPTIONS, now);
    expect(throttle.recordsPerSecond).toBe(OPTIONS.minRate);
    /** One interval of ingest taking all it is allowed, in ten admissions. */
    const busyInterval = () => {
      const perTenth = throttle.recordsPerSecond / 100;
      for (let i = 0; i < 10; i++) throttle.admit(perTenth, (now += OPTIONS.intervalMs / 10));
    };
    for (let i = 0; i < 20; i++) busyInterval();
    const grown = throttle.recordsPerSecond;
    expect(grown).toBeGreaterThan(OPTIONS.minRate * 1.1 ** 15); // about a tenth more an interval
    expect(grown).toBeLessThanOrEqual(OPTIONS.minRate * 1.1 ** 20 + 1e-6);
    busyInterval();
    throttle.observe(60, now); // slow order batches in a busy interval...
    busyInterval(); // ...and its close halves the rate
    expect(throttle.recordsPerSecond).toBeLessThanOrEqual((grown * 1.1) / 2 + 1e-6);
    // Order entry alone has a slow batch now and then: the average decides.
    const before = throttle.recordsPerSecond;
    throttle.observe(60, now);
    for (let i = 0; i < 9; i++) throttle.observe(3, now);
    busyInterval();
    expect(throttle.recordsPerSecond).toBeGreaterThanOrEqual(before);
    // Calm, but no ingest: nothing to learn, the rate holds. Slow, but no ingest: not its doing.
    const held = throttle.recordsPerSecond;
    for (let i = 0; i < 20; i++) throttle.observe(5, (now += OPTIONS.intervalMs));
    expect(throttle.recordsPerSecond).toBe(held);
    for (let i = 0; i < 20; i++) throttle.observe(60, (now += OPTIONS.intervalMs));
    expect(throttle.recordsPerSecond).toBe(held);
  });

  test('at the floor, a batch of any size goes when nothing is owed; the next waits for the debt, or is refused beyond the longest wait', () => {
    const throttle = new IngestThrottle({ ...OPTIONS, maxRate: OPTIONS.minRate }, 0); // held at the floor
    const later = 1_000; // a tenth of a second's records saved up (the most kept)
    expect(throttle.admit(3_000, later)).toBe(0); // more than 2 s at the floor, but nothing was owed
    expect(throttle.owedMs).toBe(2_900);
    expect(throttle.admit(1, later)).toBeUndefined(); // 2.9 s behind it
    expect(throttle.admit(500, later + 1_000)).toBe(1_900); // a second repaid
    expect(throttle.admit(1, later + 1_000)).toBeUndefined(); // 2.4 s behind both
  });

  test('after a quiet spell, the rate rises once for the last busy interval, not once an interval', () => {
    const { throttle, now } = atTheFloor(0);
    throttle.admit(50, now); // within what is saved up: owes nothing
    throttle.admit(100, now); // a batch that had to go into debt: ingest wanted more
    throttle.observe(5, now + 60_000); // a minute of nothing
    expect(throttle.recordsPerSecond).toBeCloseTo(OPTIONS.minRate * (1 + OPTIONS.growth), 6);
  });
});
