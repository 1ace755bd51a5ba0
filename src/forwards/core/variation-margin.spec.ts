import { describe, expect, test } from '@jest/globals';
import { DEFAULT_GRID } from '../../markets/price.js';
import { variationMargin, type VariationInputs } from './variation-margin.js';

const sum = (m: Map<string, bigint>) => [...m.values()].reduce((a, b) => a + b, 0n);
const base: VariationInputs = { grid: DEFAULT_GRID, markTicks: 2000, positionsAtPreviousMark: new Map(), trades: [] };

describe('variationMargin', () => {
  test('the first mark: each trade moves from its price to the mark', () => {
    // alice bought 100 @ 1950 from bob: (2000 − 1950) × 100 = 5,000 to alice, −5,000 to bob.
    const vm = variationMargin({ ...base, trades: [{ buyerId: 'alice', sellerId: 'bob', priceTicks: 1950, lots: 100 }] });
    expect(vm).toEqual(new Map([['alice', 5_000n], ['bob', -5_000n]]));
  });

  test('positions held at the previous mark move by the price change, trades by their own', () => {
    // alice +100, bob −100 at 2000; mark 2100. alice sells 40 @ 2150 to carol.
    // alice: 100 × 100 + (2100 − 2150) × −40 = 10,000 + 2,000 = 12,000.
    // bob: 100 × −100 = −10,000. carol: (2100 − 2150) × 40 = −2,000.
    const vm = variationMargin({
      ...base,
      markTicks: 2100,
      previousMarkTicks: 2000,
      positionsAtPreviousMark: new Map([['alice', 100], ['bob', -100]]),
      trades: [{ buyerId: 'carol', sellerId: 'alice', priceTicks: 2150, lots: 40 }],
    });
    expect(vm).toEqual(new Map([['alice', 12_000n], ['bob', -10_000n], ['carol', -2_000n]]));
    expect(sum(vm)).toBe(0n);
  });

  test('converts ticks × lots to micro-USD with the grid', () => {
    // tick 0.01 USD/MTok (10,000 micro), lot 10,000 tokens: one tick on one lot is 100 micro-USD.
    const vm = variationMargin({ ...base, grid: { tickMicroUsdPerMTok: 10_000, lotTokens: 10_000 }, markTicks: 203, trades: [{ buyerId: 'a', sellerId: 'b', priceTicks: 200, lots: 7 }] });
    expect(vm).toEqual(new Map([['a', 2_100n], ['b', -2_100n]]));
  });

  test('zero amounts are left out: no position, or a trade at the mark, or an unchanged mark', () => {
    const vm = variationMargin({
      ...base,
      previousMarkTicks: 2000,
      positionsAtPreviousMark: new Map([['alice', 5], ['bob', -5], ['dan', 0]]),
      trades: [{ buyerId: 'carol', sellerId: 'erin', priceTicks: 2000, lots: 9 }],
    });
    expect(vm.size).toBe(0);
  });

  test('entries come in participant id order', () => {
    const vm = variationMargin({ ...base, trades: [{ buyerId: 'zed', sellerId: 'amy', priceTicks: 1, lots: 1 }, { buyerId: 'mo', sellerId: 'amy', priceTicks: 1, lots: 1 }] });
    expect([...vm.keys()]).toEqual(['amy', 'mo', 'zed']);
  });

  test('a self-trade moves nothing', () => {
    expect(variationMargin({ ...base, trades: [{ buyerId: 'a', sellerId: 'a', priceTicks: 1500, lots: 3 }] }).size).toBe(0);
  });

  test('positions at a previous mark need that mark, and must net to zero', () => {
    expect(() => variationMargin({ ...base, positionsAtPreviousMark: new Map([['a', 1], ['b', -1]]) })).toThrow(RangeError);
    expect(() => variationMargin({ ...base, previousMarkTicks: 1900, positionsAtPreviousMark: new Map([['a', 2], ['b', -1]]) })).toThrow(/net to 1 lots/);
    expect(variationMargin({ ...base, positionsAtPreviousMark: new Map([['a', 0]]) }).size).toBe(0);
  });
});
