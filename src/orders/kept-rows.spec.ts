import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { KeptRows } from './kept-rows.js';
import type { OpenOrderRow } from './order-records.js';

const line = '41 7b0c5c1e-1f6a-4a51-9d3f-0d2d7b5f1a10 buy limit GTC 500 10 3 open t cancel_taker - 9007199254740993 12345 0 17 12 12 1796385600000';

describe('KeptRows', () => {
  test('reads back every row it kept, free texts of any characters included', () => {
    const freeText = fc.option(fc.string({ unit: 'binary', maxLength: 80 }), { nil: null });
    const row = fc.tuple(fc.stringMatching(/^[0-9a-z -]{1,200}$/), freeText, freeText);
    fc.assert(
      // Up to 600 rows of up to about 700 bytes: many runs span several 64 KB chunks.
      fc.property(fc.array(row, { maxLength: 600 }), (rows) => {
        const kept = new KeptRows();
        const handles = rows.map((r) => kept.keep(r as OpenOrderRow));
        expect(handles.map((h) => kept.read(h))).toEqual(rows);
      }),
      { numRuns: 50 },
    );
  });

  test('spans chunks, and gives a row longer than a chunk one of its own', () => {
    const kept = new KeptRows();
    const long: OpenOrderRow = [line, 'bot:7', 'ü\n\t"'.repeat(30_000)];
    const rows: OpenOrderRow[] = [...Array.from({ length: 1_000 }, (_, i): OpenOrderRow => [`${i} ${line}`, i % 3 === 0 ? `c${i}` : null, null]), long, [line, null, null]];
    const handles = rows.map((r) => kept.keep(r));
    expect(new Set(handles).size).toBe(rows.length);
    expect(handles.map((h) => kept.read(h))).toEqual(rows);
  });
});
