import { describe, expect, test } from '@jest/globals';
import { markPrice, type MarkInputs } from './mark-price.js';

const NONE: MarkInputs = { trades: [], collarBps: 1000 };

describe('markPrice', () => {
  test('the last hour trades give their volume-weighted price', () => {
    // (2000 × 10 + 2100 × 30) / 40 = 83,000 / 40 = 2075.
    expect(markPrice({ ...NONE, trades: [{ priceTicks: 2000, lots: 10 }, { priceTicks: 2100, lots: 30 }], bestBid: 1, bestAsk: 9999, previousMarkTicks: 5 })).toEqual({ priceTicks: 2075, source: 'trades' });
  });

  test('the volume-weighted price rounds half up to a whole tick, exactly', () => {
    // (100 + 101) / 2 = 100.5 → 101; (100 × 2 + 101) / 3 = 100.33 → 100; (100 + 101 × 2) / 3 = 100.67 → 101.
    expect(markPrice({ ...NONE, trades: [{ priceTicks: 100, lots: 1 }, { priceTicks: 101, lots: 1 }] })?.priceTicks).toBe(101);
    expect(markPrice({ ...NONE, trades: [{ priceTicks: 100, lots: 2 }, { priceTicks: 101, lots: 1 }] })?.priceTicks).toBe(100);
    expect(markPrice({ ...NONE, trades: [{ priceTicks: 100, lots: 1 }, { priceTicks: 101, lots: 2 }] })?.priceTicks).toBe(101);
  });

  test('big trades stay exact: no float touches the sum', () => {
    // 2^53 would lose the odd tick in a float product; bigint keeps it.
    const lots = 1_000_000_000;
    expect(markPrice({ ...NONE, trades: [{ priceTicks: 9_000_001, lots }, { priceTicks: 9_000_002, lots }] })?.priceTicks).toBe(9_000_002);
    expect(markPrice({ ...NONE, trades: [{ priceTicks: 9_000_001, lots: lots + 1 }, { priceTicks: 9_000_002, lots }] })?.priceTicks).toBe(9_000_001);
  });

  test('no trades: the mid of a two-sided book within the collar, rounded half up', () => {
    expect(markPrice({ ...NONE, bestBid: 1990, bestAsk: 2010, referenceTicks: 2000 })).toEqual({ priceTicks: 2000, source: 'mid' });
    expect(markPrice({ ...NONE, bestBid: 1999, bestAsk: 2000, referenceTicks: 2000 })).toEqual({ priceTicks: 2000, source: 'mid' });
  });

  test('the collar is ±collarBps of the reference, its bounds included', () => {
    // 10 % of 2000 is 200: bids and asks from 1800 to 2200 count.
    expect(markPrice({ ...NONE, bestBid: 1800, bestAsk: 2200, referenceTicks: 2000, previousMarkTicks: 1500 })).toEqual({ priceTicks: 2000, source: 'mid' });
    expect(markPrice({ ...NONE, bestBid: 1799, bestAsk: 2200, referenceTicks: 2000, previousMarkTicks: 1500 })).toEqual({ priceTicks: 1500, source: 'previous' });
    expect(markPrice({ ...NONE, bestBid: 1800, bestAsk: 2201, referenceTicks: 2000, previousMarkTicks: 1500 })).toEqual({ priceTicks: 1500, source: 'previous' });
  });

  test('without a reference the mid is taken as it stands', () => {
    expect(markPrice({ ...NONE, bestBid: 10, bestAsk: 5001 })).toEqual({ priceTicks: 2506, source: 'mid' });
  });

  test('one side of the book is no mid: the previous mark', () => {
    expect(markPrice({ ...NONE, bestBid: 2000, referenceTicks: 2000, previousMarkTicks: 1950, spotIndexTicks: 1 })).toEqual({ priceTicks: 1950, source: 'previous' });
    expect(markPrice({ ...NONE, bestAsk: 2000, referenceTicks: 2000, previousMarkTicks: 1950 })).toEqual({ priceTicks: 1950, source: 'previous' });
  });

  test('the first mark with nothing else is the spot index; with no index either, no mark', () => {
    expect(markPrice({ ...NONE, bestBid: 2000, spotIndexTicks: 1900 })).toEqual({ priceTicks: 1900, source: 'index' });
    expect(markPrice({ ...NONE, bestBid: 100, bestAsk: 200, referenceTicks: 2000, spotIndexTicks: 1900 })).toEqual({ priceTicks: 1900, source: 'index' });
    expect(markPrice(NONE)).toBeUndefined();
  });

  test('trades of zero lots are no trades', () => {
    expect(markPrice({ ...NONE, trades: [{ priceTicks: 3000, lots: 0 }], previousMarkTicks: 2000 })).toEqual({ priceTicks: 2000, source: 'previous' });
  });
});
