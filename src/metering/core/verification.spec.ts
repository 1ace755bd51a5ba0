import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { beyondTolerance, billableTokens, checkRecord, counterIncrease, countersDisagree, slaBreach } from './verification.js';

describe('billable tokens and tolerance', () => {
  test('billable = completion + floor(prompt × weight / 10,000)', () => {
    expect(billableTokens(400, 100, 2500)).toBe(200n);
    expect(billableTokens(3, 0, 2500)).toBe(0n);
    expect(billableTokens(10, 5, 10_000)).toBe(15n);
  });

  test('within tolerance: 0.5 % and at least 2 tokens a request; never for a report at or under the count', () => {
    expect(beyondTolerance(102n, 100n)).toBe(false);
    expect(beyondTolerance(103n, 100n)).toBe(true);
    expect(beyondTolerance(10_050n, 10_000n)).toBe(false);
    expect(beyondTolerance(10_051n, 10_000n)).toBe(true);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 9n }), fc.bigInt({ min: 0n, max: 10n ** 9n }), (counted, less) => {
        expect(beyondTolerance(counted - (less > counted ? counted : less), counted)).toBe(false);
      }),
    );
  });

  test('a report further above the count is never more acceptable', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 9n }), fc.bigInt({ min: 0n, max: 10n ** 6n }), fc.bigInt({ min: 0n, max: 10n ** 6n }), (counted, a, b) => {
        const [lo, hi] = a < b ? [a, b] : [b, a];
        if (beyondTolerance(counted + lo, counted)) expect(beyondTolerance(counted + hi, counted)).toBe(true);
      }),
    );
  });
});

describe('node counters', () => {
  test('increase counts a drop as a restart from zero, like Prometheus', () => {
    expect(counterIncrease([{ at: 0, value: 100 }, { at: 1, value: 150 }, { at: 2, value: 20 }, { at: 3, value: 50 }])).toBe(50 + 20 + 30);
    expect(counterIncrease([{ at: 0, value: 7 }])).toBe(0);
  });

  test('the increase of any series is at least its last value minus its first, and never negative', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(1_000_000), { minLength: 1, maxLength: 30 }), (values) => {
        const growth = counterIncrease(values.map((value, at) => ({ at, value })));
        expect(growth).toBeGreaterThanOrEqual(Math.max(0, values[values.length - 1] - values[0]));
      }),
    );
  });

  test('a total inflation of 1 % shows against honest counters; an honest report never does', () => {
    expect(countersDisagree(101_000, 100_000)).toBe(true);
    expect(countersDisagree(100_400, 100_000)).toBe(false);
    fc.assert(fc.property(fc.nat(10 ** 9), fc.nat(10 ** 6), (counted, extra) => expect(countersDisagree(counted, counted + extra)).toBe(false)));
  });
});

describe('one record', () => {
  const delivery = { providerId: 'p', modelClassId: 'm', windowStart: 10_000, windowEnd: 100_000 };
  const node = { providerId: 'p', modelClassId: 'm', tokensPerSecond: 1_000 };
  const model = { inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2_000 };
  const honest = { promptTokens: 400, completionTokens: 100, startedAt: 20_000, finishedAt: 22_000, ttftMs: 300, status: 'ok' as const };

  test('an honest request is billable and within the SLA', () => {
    expect(checkRecord(honest, delivery, node, model)).toEqual({ reportedBillable: 200n, withinSla: true });
  });

  test('ownership, model, window and failure reject it', () => {
    expect(checkRecord(honest, delivery, { ...node, providerId: 'q' }, model).rejection).toBe('wrong_provider');
    expect(checkRecord(honest, delivery, { ...node, modelClassId: 'n' }, model).rejection).toBe('wrong_model');
    expect(checkRecord({ ...honest, startedAt: 1_000, finishedAt: 2_000 }, delivery, node, model).rejection).toBe('outside_window');
    expect(checkRecord({ ...honest, finishedAt: 106_000 }, delivery, node, model).rejection).toBe('outside_window');
    expect(checkRecord({ ...honest, finishedAt: 104_000 }, delivery, node, model).rejection).toBeUndefined(); // within the 5 s skew
    expect(checkRecord({ ...honest, status: 'error' }, delivery, node, model).rejection).toBe('failed_request');
  });

  test('faster than the node could ever generate, or a first token after the end, is implausible', () => {
    expect(checkRecord({ ...honest, completionTokens: 5_000 }, delivery, node, model).implausible).toMatch(/faster than the node's declared 1000 tokens\/s/);
    expect(checkRecord({ ...honest, ttftMs: 2_500 }, delivery, node, model).implausible).toMatch(/exceeds the request's duration/);
  });

  test('the SLA: time to first token, then tokens per second', () => {
    expect(checkRecord({ ...honest, ttftMs: 2_001, finishedAt: 25_000 }, delivery, node, model)).toMatchObject({ withinSla: false, slaProblem: expect.stringMatching(/time to first token/) });
    expect(checkRecord({ ...honest, completionTokens: 30, finishedAt: 22_300 + 2_000 }, delivery, node, model)).toMatchObject({ withinSla: false, slaProblem: expect.stringMatching(/tokens\/s under 20/) });
  });
});

describe('breach from requests', () => {
  test('more than 1 % of requests bad, and at least 3', () => {
    expect(slaBreach(2, 10)).toBe(false);
    expect(slaBreach(3, 10)).toBe(true);
    expect(slaBreach(3, 300)).toBe(false);
    expect(slaBreach(4, 300)).toBe(true);
  });
});
