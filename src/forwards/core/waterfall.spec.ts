import { describe, expect, test } from '@jest/globals';
import { fundExpiry, settleVariation, type LoserFunds } from './waterfall.js';

const funds = (margin: bigint, available = 0n, bond = 0n): LoserFunds => ({ margin, available, bond });

describe('settleVariation', () => {
  test('a loser whose margin covers it pays from margin only; winners are paid in full', () => {
    const s = settleVariation({ amounts: new Map([['bob', -1_000n], ['alice', 600n], ['carol', 400n]]), funds: new Map([['bob', funds(5_000n, 9n, 9n)]]), insurance: 0n });
    expect(s).toEqual({
      collections: [{ participantId: 'bob', source: 'margin', amount: 1_000n }],
      payments: [{ participantId: 'alice', amount: 600n }, { participantId: 'carol', amount: 400n }],
      cuts: [],
      defaults: [],
    });
  });

  test('margin, then available cash, then the bond, then insurance: each only for what is still owed', () => {
    const s = settleVariation({ amounts: new Map([['bob', -1_000n], ['alice', 1_000n]]), funds: new Map([['bob', funds(300n, 200n, 100n)]]), insurance: 10_000n });
    expect(s.collections).toEqual([
      { participantId: 'bob', source: 'margin', amount: 300n },
      { participantId: 'bob', source: 'available', amount: 200n },
      { participantId: 'bob', source: 'bond', amount: 100n },
      { participantId: 'bob', source: 'insurance', amount: 400n },
    ]);
    expect(s.defaults).toEqual([{ participantId: 'bob', unpaid: 400n }]);
    expect(s.payments).toEqual([{ participantId: 'alice', amount: 1_000n }]);
    expect(s.cuts).toEqual([]);
  });

  test('empty sources are skipped; a loser with no funds entry has nothing', () => {
    const s = settleVariation({ amounts: new Map([['bob', -50n], ['dan', -50n], ['alice', 100n]]), funds: new Map([['bob', funds(0n, 0n, 20n)]]), insurance: 1_000n });
    expect(s.collections).toEqual([
      { participantId: 'bob', source: 'bond', amount: 20n },
      { participantId: 'bob', source: 'insurance', amount: 30n },
      { participantId: 'dan', source: 'insurance', amount: 50n },
    ]);
    expect(s.defaults).toEqual([{ participantId: 'bob', unpaid: 30n }, { participantId: 'dan', unpaid: 50n }]);
  });

  test('insurance is used in loser id order until it runs out', () => {
    const s = settleVariation({ amounts: new Map([['zoe', -70n], ['bob', -70n], ['alice', 140n]]), funds: new Map(), insurance: 100n });
    expect(s.collections).toEqual([
      { participantId: 'bob', source: 'insurance', amount: 70n },
      { participantId: 'zoe', source: 'insurance', amount: 30n },
    ]);
    expect(s.payments).toEqual([{ participantId: 'alice', amount: 100n }]);
    expect(s.cuts).toEqual([{ participantId: 'alice', amount: 40n }]);
  });

  test('a shortfall is cut from the winners pro rata, the left-over micro-dollar to the largest remainder', () => {
    // Shortfall 10 over winners 600 : 300 : 100 (total 1,000): 6, 3, 1 exactly.
    const exact = settleVariation({ amounts: new Map([['bob', -1_000n], ['a', 600n], ['b', 300n], ['c', 100n]]), funds: new Map([['bob', funds(990n)]]), insurance: 0n });
    expect(exact.cuts).toEqual([{ participantId: 'a', amount: 6n }, { participantId: 'b', amount: 3n }, { participantId: 'c', amount: 1n }]);
    expect(exact.payments).toEqual([{ participantId: 'a', amount: 594n }, { participantId: 'b', amount: 297n }, { participantId: 'c', amount: 99n }]);
    // Shortfall 7 over 5 : 3 : 2: 3.5, 2.1, 1.4 → floors 3, 2, 1 (6), the 7th to a (0.5 is the largest).
    const rounded = settleVariation({ amounts: new Map([['bob', -10n], ['a', 5n], ['b', 3n], ['c', 2n]]), funds: new Map([['bob', funds(3n)]]), insurance: 0n });
    expect(rounded.cuts).toEqual([{ participantId: 'a', amount: 4n }, { participantId: 'b', amount: 2n }, { participantId: 'c', amount: 1n }]);
  });

  test('equal remainders go in participant id order, whatever order the amounts came in', () => {
    // Shortfall 2 over three equal winners: 0.67 each → floors 0; the 2 micro-dollars to a and b.
    const s = settleVariation({ amounts: new Map([['c', 1n], ['b', 1n], ['loser', -3n], ['a', 1n]]), funds: new Map([['loser', funds(1n)]]), insurance: 0n });
    expect(s.cuts).toEqual([{ participantId: 'a', amount: 1n }, { participantId: 'b', amount: 1n }]);
    expect(s.payments).toEqual([{ participantId: 'c', amount: 1n }]);
  });

  test('nothing collected: every winner is cut in full and paid nothing', () => {
    const s = settleVariation({ amounts: new Map([['bob', -9n], ['a', 4n], ['b', 5n]]), funds: new Map(), insurance: 0n });
    expect(s.collections).toEqual([]);
    expect(s.payments).toEqual([]);
    expect(s.cuts).toEqual([{ participantId: 'a', amount: 4n }, { participantId: 'b', amount: 5n }]);
    expect(s.defaults).toEqual([{ participantId: 'bob', unpaid: 9n }]);
  });

  test('no amounts: nothing moves', () => {
    expect(settleVariation({ amounts: new Map(), funds: new Map(), insurance: 5n })).toEqual({ collections: [], payments: [], cuts: [], defaults: [] });
  });

  test('refuses amounts that do not sum to zero, negative funds and a negative insurance fund', () => {
    expect(() => settleVariation({ amounts: new Map([['a', 1n]]), funds: new Map(), insurance: 0n })).toThrow(/sum to zero/);
    expect(() => settleVariation({ amounts: new Map([['a', 1n], ['b', -1n]]), funds: new Map([['b', funds(-1n)]]), insurance: 0n })).toThrow(RangeError);
    expect(() => settleVariation({ amounts: new Map(), funds: new Map(), insurance: -1n })).toThrow(/insurance/);
  });
});

describe('fundExpiry', () => {
  test('a long funds its notional from margin first, then available cash', () => {
    // 100 lots × 2,200 = 220,000: margin 50,000, the rest 170,000 from available.
    expect(fundExpiry({ longs: [{ participantId: 'a', lots: 100, margin: 50_000n, available: 500_000n }], notionalPerLot: 2_200n })).toEqual([
      { participantId: 'a', fundedLots: 100, fromMargin: 50_000n, fromAvailable: 170_000n },
    ]);
  });

  test('margin above the notional stays: only what is required moves', () => {
    expect(fundExpiry({ longs: [{ participantId: 'a', lots: 10, margin: 50_000n, available: 7n }], notionalPerLot: 2_200n })).toEqual([
      { participantId: 'a', fundedLots: 10, fromMargin: 22_000n, fromAvailable: 0n },
    ]);
  });

  test('a long that cannot fund every lot is cut to the whole lots it can', () => {
    // 8,640 / 2,200 = 3.9 → 3 lots, 6,600: margin 3,640 then 2,960 of the 5,000 available.
    expect(fundExpiry({ longs: [{ participantId: 'b', lots: 7, margin: 3_640n, available: 5_000n }], notionalPerLot: 2_200n })).toEqual([
      { participantId: 'b', fundedLots: 3, fromMargin: 3_640n, fromAvailable: 2_960n },
    ]);
  });

  test('exactly enough funds every lot; one micro-dollar less loses a lot; nothing funds nothing', () => {
    const [exact, short, none] = fundExpiry({
      longs: [
        { participantId: 'a', lots: 5, margin: 6_000n, available: 5_000n },
        { participantId: 'b', lots: 5, margin: 6_000n, available: 4_999n },
        { participantId: 'c', lots: 5, margin: 0n, available: 0n },
      ],
      notionalPerLot: 2_200n,
    });
    expect(exact).toEqual({ participantId: 'a', fundedLots: 5, fromMargin: 6_000n, fromAvailable: 5_000n });
    expect(short).toEqual({ participantId: 'b', fundedLots: 4, fromMargin: 6_000n, fromAvailable: 2_800n });
    expect(none).toEqual({ participantId: 'c', fundedLots: 0, fromMargin: 0n, fromAvailable: 0n });
  });

  test('refuses negative funds or lots', () => {
    expect(() => fundExpiry({ longs: [{ participantId: 'a', lots: 1, margin: -1n, available: 0n }], notionalPerLot: 1n })).toThrow(RangeError);
    expect(() => fundExpiry({ longs: [{ participantId: 'a', lots: -1, margin: 0n, available: 0n }], notionalPerLot: 1n })).toThrow(RangeError);
  });
});
