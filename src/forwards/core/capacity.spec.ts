import { describe, expect, test } from '@jest/globals';
import { forwardCapacityRefusal, spreadOverDays, type ForwardCapacityInputs } from './capacity.js';

const day = (iso: string) => Date.parse(`${iso}T00:00:00Z`) / 86_400_000;
// 10 tokens/s × 86,400 s = 864,000 tokens a day.
const base: ForwardCapacityInputs = {
  activeNodes: 1,
  tokensPerSecond: 10n,
  periodDays: [day('2027-06-01'), day('2027-06-02'), day('2027-06-03')],
  committedTokensByDay: new Map(),
  addedTokensPerDay: [300_000n, 300_000n, 300_000n],
};

describe('forwardCapacityRefusal', () => {
  test('a short its nodes can serve every day passes', () => {
    expect(forwardCapacityRefusal(base)).toBeUndefined();
  });

  test('no enabled node: NO_ACTIVE_NODE, whatever the figures', () => {
    expect(forwardCapacityRefusal({ ...base, activeNodes: 0, tokensPerSecond: 1_000n })?.code).toBe('NO_ACTIVE_NODE');
  });

  test('exactly the daily capacity passes; one token more is refused, naming the day and the figures', () => {
    const committed = new Map([[day('2027-06-02'), 564_000n]]);
    expect(forwardCapacityRefusal({ ...base, committedTokensByDay: committed })).toBeUndefined();
    const over = new Map([[day('2027-06-02'), 564_001n], [day('2027-06-03'), 600_000n]]);
    expect(forwardCapacityRefusal({ ...base, committedTokensByDay: over })).toEqual({
      code: 'CAPACITY_EXCEEDED',
      message: 'this sell would commit 864001 tokens on 2027-06-02 (564001 already committed + 300000); your enabled nodes can serve 864000 a day',
    });
  });

  test('only the period days count: a full day outside it refuses nothing', () => {
    const elsewhere = new Map([[day('2027-05-31'), 10_000_000n], [day('2027-06-04'), 10_000_000n]]);
    expect(forwardCapacityRefusal({ ...base, committedTokensByDay: elsewhere })).toBeUndefined();
  });

  test('the added tokens must line up with the period days', () => {
    expect(() => forwardCapacityRefusal({ ...base, addedTokensPerDay: [1n] })).toThrow(RangeError);
  });
});

describe('spreadOverDays', () => {
  test('floor each day, the remainder one token each on the first days', () => {
    expect(spreadOverDays(2_000_000n, 7)).toEqual([285_715n, 285_715n, 285_714n, 285_714n, 285_714n, 285_714n, 285_714n]);
    expect(spreadOverDays(18_000_000n, 30)).toEqual(Array(30).fill(600_000n));
    expect(spreadOverDays(0n, 3)).toEqual([0n, 0n, 0n]);
  });

  test('refuses no days and negative tokens', () => {
    expect(() => spreadOverDays(1n, 0)).toThrow(RangeError);
    expect(() => spreadOverDays(-1n, 1)).toThrow(RangeError);
  });
});
