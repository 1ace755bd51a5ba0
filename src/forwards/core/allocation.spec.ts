import { describe, expect, test } from '@jest/globals';
import { allocateExpiry, dailySchedule } from './allocation.js';

const pos = (participantId: string, lots: number, openedSeq: number) => ({ participantId, lots, openedSeq });

describe('allocateExpiry', () => {
  test('one short to its longs, each receiving exactly its lots', () => {
    expect(allocateExpiry([pos('a', 20, 2), pos('b', 10, 3)], [pos('s', 30, 1)])).toEqual([
      { shortId: 's', longId: 'a', lots: 20 },
      { shortId: 's', longId: 'b', lots: 10 },
    ]);
  });

  test('each short is spread over the longs pro rata, the remainder to the oldest long', () => {
    // x (oldest short) gives 5 over needs 3 : 3 : 4 (of 10): 1.5, 1.5, 2 → 1, 1, 2, the 5th to a (oldest).
    // Needs left 1, 2, 2: y's 5 meets them exactly.
    expect(allocateExpiry([pos('c', 4, 5), pos('a', 3, 3), pos('b', 3, 4)], [pos('y', 5, 2), pos('x', 5, 1)])).toEqual([
      { shortId: 'x', longId: 'a', lots: 2 },
      { shortId: 'x', longId: 'b', lots: 1 },
      { shortId: 'x', longId: 'c', lots: 2 },
      { shortId: 'y', longId: 'a', lots: 1 },
      { shortId: 'y', longId: 'b', lots: 2 },
      { shortId: 'y', longId: 'c', lots: 2 },
    ]);
  });

  test('shorts beyond the (cut) longs give pro rata to their size, the remainder from the oldest; the rest is unallocated', () => {
    // 7 of 10: x 4.2 → 4, y 2.8 → 2, the 7th from x (oldest), not y (larger fraction).
    expect(allocateExpiry([pos('a', 7, 3)], [pos('x', 6, 1), pos('y', 4, 2)])).toEqual([
      { shortId: 'x', longId: 'a', lots: 5 },
      { shortId: 'y', longId: 'a', lots: 2 },
    ]);
  });

  test('the oldest position gets the remainder even when it is the smallest; equal ages go by participant id', () => {
    // 5 of 10: big 4.5 → 4, small 0.5 → 0, the 5th to small (opened first).
    expect(allocateExpiry([pos('a', 5, 9)], [pos('big', 9, 5), pos('small', 1, 1)])).toEqual([
      { shortId: 'small', longId: 'a', lots: 1 },
      { shortId: 'big', longId: 'a', lots: 4 },
    ]);
    expect(allocateExpiry([pos('a', 1, 9)], [pos('q', 1, 1), pos('p', 1, 1)])).toEqual([{ shortId: 'p', longId: 'a', lots: 1 }]);
  });

  test('nothing on one side allocates nothing', () => {
    expect(allocateExpiry([], [pos('x', 5, 1)])).toEqual([]);
    expect(allocateExpiry([], [])).toEqual([]);
  });

  test('refuses positions that are not positive whole lots', () => {
    expect(() => allocateExpiry([pos('a', 0, 1)], [pos('x', 1, 1)])).toThrow(RangeError);
    expect(() => allocateExpiry([pos('a', 1.5, 1)], [pos('x', 1, 1)])).toThrow(RangeError);
  });
});

describe('dailySchedule', () => {
  test('one delivery per day: floor each, the remainder one lot each on the first days', () => {
    expect(dailySchedule(30_000, 30)).toEqual(Array(30).fill(1_000));
    expect(dailySchedule(10, 3)).toEqual([4, 3, 3]);
    expect(dailySchedule(2, 5)).toEqual([1, 1, 0, 0, 0]);
    expect(dailySchedule(0, 2)).toEqual([0, 0]);
    expect(dailySchedule(7, 1)).toEqual([7]);
  });

  test('refuses a period of no days and negative lots', () => {
    expect(() => dailySchedule(1, 0)).toThrow(RangeError);
    expect(() => dailySchedule(-1, 3)).toThrow(RangeError);
  });
});
