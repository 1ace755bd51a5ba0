import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { decodeJson, encodeJson } from './json-codec.js';

describe('json codec', () => {
  test('bigints and dates survive a round trip, nested in objects and arrays', () => {
    const value = { amount: 123456789012345678901234567890n, at: new Date('2026-12-03T10:00:00.123Z'), list: [1n, { when: new Date(0) }], text: 'x', none: null };
    expect(decodeJson(encodeJson(value))).toEqual(value);
  });

  test('any bigint round-trips exactly', () => {
    fc.assert(fc.property(fc.bigInt(), (n) => decodeJson<{ n: bigint }>(encodeJson({ n })).n === n));
  });
});
