import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { formatUsd, MAX_API_AMOUNT_MICROS, parseUsd } from './money.js';

describe('money', () => {
  test.each([
    ['0', 0n],
    ['12', 12_000_000n],
    ['12.5', 12_500_000n],
    ['0.000001', 1n],
    ['1000000000000', MAX_API_AMOUNT_MICROS],
  ])('parses %s', (text, micros) => {
    expect(parseUsd(text)).toEqual({ ok: true, micros });
  });

  test.each(['', '-1', '1.0000001', '01', '1e3', ' 1', '1.', '.5', 'NaN', '1000000000000.000001'])(
    'refuses %p',
    (text) => {
      expect(parseUsd(text).ok).toBe(false);
    },
  );

  test('formats with six decimals and a sign', () => {
    expect(formatUsd(0n)).toBe('0.000000');
    expect(formatUsd(1n)).toBe('0.000001');
    expect(formatUsd(-250_000n)).toBe('-0.250000');
    expect(formatUsd(12_345_678_901n)).toBe('12345.678901');
  });

  test('parse and format round-trip every amount', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX_API_AMOUNT_MICROS }), (micros) => {
        expect(parseUsd(formatUsd(micros))).toEqual({ ok: true, micros });
      }),
    );
  });
});
