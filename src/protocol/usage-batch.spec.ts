import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { recordProblem, timeOf } from './usage-batch.js';

/** The check before issue 15 (a Date and its ISO string per timestamp): the fast one must agree with it everywhere. */
function referenceIsTime(v: unknown): boolean {
  if (typeof v !== 'string' || v.length > 40) return false;
  const day = /^(\d{4})-(\d{2})-(\d{2})T/.exec(v);
  if (!day || Number(day[1]) < 1970 || Number.isNaN(Date.parse(v))) return false;
  return new Date(Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]))).toISOString().startsWith(`${day[1]}-${day[2]}-${day[3]}`);
}

const digits = (n: number, max: number) => fc.integer({ min: 0, max }).map((x) => String(x).padStart(n, '0'));
/** ISO-like times, most near the edges: months 00 to 13, days 00 to 32, leap years, odd zones and tails. */
const isoLike = fc
  .tuple(
    fc.oneof(fc.constantFrom('1969', '1970', '2000', '2024', '2025', '2100', '1900', '9999', '0000'), digits(4, 9999)),
    digits(2, 13),
    digits(2, 32),
    digits(2, 25),
    digits(2, 60),
    digits(2, 61),
    fc.constantFrom('', '.1', '.123', '.123456', '.'),
    fc.constantFrom('Z', '', '+00:00', '-05:30', '+2400', 'z', ' GMT', 'Zx'),
  )
  .map(([y, mo, d, h, mi, s, frac, zone]) => `${y}-${mo}-${d}T${h}:${mi}:${s}${frac}${zone}`);
const anyTime = fc.oneof(isoLike, fc.string({ maxLength: 45 }), fc.constantFrom(undefined, null, 0, 1_700_000_000_000, '2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '2000-02-29T12:00:00Z', '2100-02-29T12:00:00Z', '2024-04-31T00:00:00Z', '2024-12-31T23:59:59.999Z'));

const record = (startedAt: unknown, finishedAt: unknown) => ({
  requestId: 'r1',
  deliveryId: '6f1d3c0e-9a55-4b1e-8a8b-2f7d1c9e0a11',
  model: 'm',
  promptTokens: 1,
  completionTokens: 1,
  startedAt,
  finishedAt,
  ttftMs: 1,
});

describe('usage record times', () => {
  test('timeOf agrees with the reference check, and gives the time Date.parse reads', () => {
    fc.assert(
      fc.property(anyTime, (v) => {
        const ms = timeOf(v);
        expect(ms !== undefined).toBe(referenceIsTime(v));
        if (ms !== undefined) expect(ms).toBe(Date.parse(v as string));
      }),
      { numRuns: 20_000 },
    );
  });

  test('a record names the same problem with its times as before', () => {
    const reference = (s: unknown, f: unknown) =>
      !referenceIsTime(s) || !referenceIsTime(f)
        ? 'startedAt and finishedAt must be ISO 8601 times'
        : Date.parse(f as string) < Date.parse(s as string)
          ? 'finishedAt is before startedAt'
          : undefined;
    fc.assert(fc.property(anyTime, anyTime, (s, f) => expect(recordProblem(record(s, f))).toBe(reference(s, f))), { numRuns: 10_000 });
    expect(recordProblem(record('2024-02-30T00:00:00Z', '2024-03-01T00:00:00Z'))).toBe('startedAt and finishedAt must be ISO 8601 times');
    expect(recordProblem(record('2024-03-01T00:00:01Z', '2024-03-01T00:00:00Z'))).toBe('finishedAt is before startedAt');
    expect(recordProblem(record('2024-02-29T23:59:59.999Z', '2024-03-01T00:00:00Z'))).toBeUndefined();
  });
});
