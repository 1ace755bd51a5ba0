import { describe, expect, test } from '@jest/globals';
import { fundExpiry } from './expiry-funding.js';

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
