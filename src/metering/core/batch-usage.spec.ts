import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { usagePerDelivery } from './batch-usage.js';

describe('usagePerDelivery', () => {
  test('one row per delivery, in the order they first appear, with the sum of its records', () => {
    const usage = [
      { id: 'usage:n1:a', deliveryId: 'd2', tokens: 200n },
      { id: 'usage:n1:b', deliveryId: 'd1', tokens: 5n },
      { id: 'usage:n1:c', deliveryId: 'd2', tokens: 7n },
    ];
    expect(usagePerDelivery('n1', 'b1', usage)).toEqual([
      { id: 'batch:n1:b1:d2', deliveryId: 'd2', tokens: 207n },
      { id: 'batch:n1:b1:d1', deliveryId: 'd1', tokens: 5n },
    ]);
    expect(usagePerDelivery('n1', 'b1', [])).toEqual([]);
  });

  test('exact: every delivery gets exactly the tokens of its records, and nothing else', () => {
    const record = fc.record({ deliveryId: fc.constantFrom('d1', 'd2', 'd3'), tokens: fc.bigInt({ min: 1n, max: 10n ** 12n }) });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 60 }), (records) => {
        const usage = records.map((r, i) => ({ id: `usage:n:${i}`, ...r }));
        const rows = usagePerDelivery('n', 'b', usage);
        expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
        for (const d of ['d1', 'd2', 'd3']) {
          const want = usage.filter((u) => u.deliveryId === d).reduce((s, u) => s + u.tokens, 0n);
          expect(rows.find((r) => r.deliveryId === d)?.tokens ?? 0n).toBe(want);
        }
      }),
    );
  });
});
