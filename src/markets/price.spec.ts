import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import {
  DEFAULT_GRID,
  feeMicros,
  formatPrice,
  formatTickSize,
  gridProblem,
  lotsToTokens,
  MAX_LOT_TOKENS,
  MAX_PRICE_MICROS,
  MAX_QUANTITY_TOKENS,
  MAX_TICK_MICROS,
  notionalMicros,
  notionalPerTickLot,
  parsePrice,
  parseTickSize,
  type PriceGrid,
  tokensToLots,
} from './price.js';

/** Every valid grid: a tick, and a lot that makes tick × lot a multiple of 10^6. */
const grids: fc.Arbitrary<PriceGrid> = fc
  .integer({ min: 1, max: MAX_TICK_MICROS })
  .chain((tick) => {
    const step = 1_000_000 / gcd(tick, 1_000_000);
    return fc
      .integer({ min: 1, max: Math.floor(MAX_LOT_TOKENS / step) })
      .map((k) => ({ tickMicroUsdPerMTok: tick, lotTokens: k * step }));
  });

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

const ticksOn = (grid: PriceGrid) => fc.integer({ min: 1, max: Math.floor(MAX_PRICE_MICROS / grid.tickMicroUsdPerMTok) });

describe('prices', () => {
  test.each([
    ['0.450', 450],
    ['0.45', 450],
    ['0.001', 1],
    ['12', 12_000],
    ['1000000', 1_000_000_000],
  ])('%s is %d ticks of 0.001', (text, ticks) => {
    expect(parsePrice(text, DEFAULT_GRID)).toEqual({ ok: true, value: ticks });
  });

  test.each([
    ['0.4505', 'must be a multiple of the tick size 0.001'],
    ['-0.450', 'must be more than zero'],
    ['0', 'must be more than zero'],
    ['0.000', 'must be more than zero'],
    ['0.4500001', 'has more than 6 decimals: the finest step is 0.000001 USD per million tokens'],
    ['1000000.001', 'must not exceed 1000000 USD per million tokens'],
    ['1e3', 'must be a decimal string of USD per million tokens, e.g. "0.450"'],
    ['.45', 'must be a decimal string of USD per million tokens, e.g. "0.450"'],
    ['045', 'must be a decimal string of USD per million tokens, e.g. "0.450"'],
    [' 0.45', 'must be a decimal string of USD per million tokens, e.g. "0.450"'],
    ['', 'must be a decimal string of USD per million tokens, e.g. "0.450"'],
  ])('%p is refused: %s', (text, reason) => {
    expect(parsePrice(text, DEFAULT_GRID)).toEqual({ ok: false, reason });
  });

  test('a price is written with as many decimals as the tick has', () => {
    expect(formatPrice(450, DEFAULT_GRID)).toBe('0.450');
    expect(formatPrice(12_000, DEFAULT_GRID)).toBe('12.000');
    expect(formatPrice(3, { tickMicroUsdPerMTok: 50_000, lotTokens: 20 })).toBe('0.15');
    expect(formatPrice(7, { tickMicroUsdPerMTok: 1_000_000, lotTokens: 1 })).toBe('7');
    expect(formatPrice(1, { tickMicroUsdPerMTok: 1, lotTokens: 1_000_000 })).toBe('0.000001');
  });

  test('format then parse gives back the ticks, on every grid', () => {
    fc.assert(
      fc.property(grids.chain((grid) => fc.tuple(fc.constant(grid), ticksOn(grid))), ([grid, ticks]) => {
        expect(parsePrice(formatPrice(ticks, grid), grid)).toEqual({ ok: true, value: ticks });
      }),
    );
  });

  test('a price between two ticks is refused, on every grid with a tick above the finest', () => {
    const coarse = grids.filter((g) => g.tickMicroUsdPerMTok > 1);
    fc.assert(
      fc.property(coarse.chain((grid) => fc.tuple(fc.constant(grid), ticksOn(grid), fc.integer({ min: 1, max: grid.tickMicroUsdPerMTok - 1 }))), ([grid, ticks, offset]) => {
        const micros = BigInt(ticks - 1) * BigInt(grid.tickMicroUsdPerMTok) + BigInt(offset);
        const text = `${micros / 1_000_000n}.${(micros % 1_000_000n).toString().padStart(6, '0')}`;
        const parsed = parsePrice(text, grid);
        expect(parsed.ok).toBe(false);
      }),
    );
  });
});

describe('tick sizes and grids', () => {
  test.each([
    ['0.001', 1000],
    ['0.000001', 1],
    ['0.05', 50_000],
    ['1', 1_000_000],
    ['1000', MAX_TICK_MICROS],
  ])('tick %s is %d micro-USD per million tokens', (text, micros) => {
    expect(parseTickSize(text)).toEqual({ ok: true, value: micros });
    expect(formatTickSize(micros)).toBe(text);
  });

  test.each(['0', '-0.001', '0.0000001', '1000.000001', '0,001', 'abc'])('tick %p is refused', (text) => {
    expect(parseTickSize(text).ok).toBe(false);
  });

  test('tick size format and parse round-trip', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_TICK_MICROS }), (micros) => {
        expect(parseTickSize(formatTickSize(micros))).toEqual({ ok: true, value: micros });
      }),
    );
  });

  test('the default grid makes notional = ticks × lots', () => {
    expect(gridProblem(DEFAULT_GRID)).toBeUndefined();
    expect(notionalPerTickLot(DEFAULT_GRID)).toBe(1n);
    expect(notionalMicros(450, 7, DEFAULT_GRID)).toBe(3150n);
  });

  test('a grid whose tick on one lot is a fraction of a micro-USD is refused', () => {
    expect(gridProblem({ tickMicroUsdPerMTok: 1000, lotTokens: 500 })).toBe(
      'one tick on one lot must be a whole number of micro-USD: tickSize 0.001 × lotSize 500 tokens / 1000000 is not',
    );
    expect(gridProblem({ tickMicroUsdPerMTok: 1, lotTokens: 1000 })).toMatch(/whole number of micro-USD/);
    expect(gridProblem({ tickMicroUsdPerMTok: 1, lotTokens: 1_000_000 })).toBeUndefined();
    expect(gridProblem({ tickMicroUsdPerMTok: 0, lotTokens: 1000 })).toMatch(/tick/);
    expect(gridProblem({ tickMicroUsdPerMTok: 1000, lotTokens: MAX_LOT_TOKENS + 1 })).toMatch(/lot/);
  });

  test('notional is exact: notional × 10^6 = price in micro-USD/MTok × tokens, on every grid', () => {
    fc.assert(
      fc.property(
        grids.chain((grid) => fc.tuple(fc.constant(grid), ticksOn(grid), fc.integer({ min: 1, max: Math.floor(MAX_QUANTITY_TOKENS / grid.lotTokens) }))),
        ([grid, ticks, lots]) => {
          const priceMicros = BigInt(ticks) * BigInt(grid.tickMicroUsdPerMTok);
          const tokens = BigInt(lotsToTokens(lots, grid));
          expect(notionalMicros(ticks, lots, grid) * 1_000_000n).toBe(priceMicros * tokens);
          expect(notionalMicros(ticks, lots, grid)).toBeLessThanOrEqual(10n ** 18n); // fits BIGINT
        },
      ),
    );
  });
});

describe('quantities', () => {
  test('tokens are a whole number of lots', () => {
    expect(tokensToLots(5000, DEFAULT_GRID)).toEqual({ ok: true, value: 5 });
    expect(tokensToLots(5500, DEFAULT_GRID)).toEqual({ ok: false, reason: 'must be a multiple of the lot size 1000 tokens' });
    expect(tokensToLots(0, DEFAULT_GRID).ok).toBe(false);
    expect(tokensToLots(-1000, DEFAULT_GRID).ok).toBe(false);
    expect(tokensToLots(1000.5, DEFAULT_GRID).ok).toBe(false);
    expect(tokensToLots(MAX_QUANTITY_TOKENS + 1000, DEFAULT_GRID).ok).toBe(false);
  });

  test('lots to tokens and back round-trip, on every grid', () => {
    fc.assert(
      fc.property(
        grids.chain((grid) => fc.tuple(fc.constant(grid), fc.integer({ min: 1, max: Math.floor(MAX_QUANTITY_TOKENS / grid.lotTokens) }))),
        ([grid, lots]) => {
          expect(tokensToLots(lotsToTokens(lots, grid), grid)).toEqual({ ok: true, value: lots });
        },
      ),
    );
  });
});

describe('fees', () => {
  test('are rounded up to the micro-USD', () => {
    expect(feeMicros(3150n, 10)).toBe(4n); // 3.15 → 4
    expect(feeMicros(10_000n, 10)).toBe(10n);
    expect(feeMicros(1n, 1)).toBe(1n);
    expect(feeMicros(12_345n, 0)).toBe(0n);
    expect(feeMicros(0n, 1000)).toBe(0n);
  });

  test('are the smallest whole micro-USD at or above notional × bps / 10 000', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 18n }), fc.integer({ min: 0, max: 1000 }), (notional, bps) => {
        const fee = feeMicros(notional, bps);
        expect(fee * 10_000n).toBeGreaterThanOrEqual(notional * BigInt(bps));
        expect((fee - 1n) * 10_000n).toBeLessThan(notional * BigInt(bps));
      }),
    );
  });
});
