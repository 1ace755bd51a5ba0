import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { type BatchFacts, type BatchRecordFacts, type CounterFacts, lateBuyerReportDisputes, verifyBatch } from './verify-batch.js';
import { beyondTolerance, billableTokens, checkRecord } from './verification.js';

const NODE = { providerId: 'p', modelClassId: 'm', tokensPerSecond: 1_000 };
const MODEL = { inputWeightBps: 2_500, minTokensPerSecond: 10, maxTtftMs: 2_000 };
const DELIVERY = { providerId: 'p', modelClassId: 'm', windowStart: 0, windowEnd: 100_000 };

/** A plausible, in-window request of 400 prompt and 100 completion tokens: 200 billable. */
function rec(requestId: string, over: Partial<BatchRecordFacts> = {}): BatchRecordFacts {
  return {
    requestId,
    deliveryId: 'd1',
    record: { promptTokens: 400, completionTokens: 100, startedAt: 1_000, finishedAt: 3_000, ttftMs: 200, status: 'ok' },
    delivery: DELIVERY,
    node: NODE,
    model: MODEL,
    keyKind: 'buyer',
    buyerReport: null,
    audit: null,
    ...over,
  };
}
const batch = (records: BatchRecordFacts[], counters?: CounterFacts): BatchFacts => ({ nodeId: 'n1', batchId: 'b1', records, counters });
/** Counters that grew by `prompt` and `generation` tokens since the baseline. */
const counters = (prompt: number, generation: number, reported: { promptTokens: number; completionTokens: number }): CounterFacts => ({
  from: 0,
  to: 10_000,
  reported: { requests: 1, ...reported },
  counted: { promptTokens: prompt, generationTokens: generation },
});

describe('verifyBatch, by example', () => {
  test('an honest request is verified and billed as reported', () => {
    const v = verifyBatch(batch([rec('a')]));
    expect(v.records).toEqual([{ requestId: 'a', verdict: 'verified', billable: 200n, withinSla: true, flags: [] }]);
    expect(v.usage).toEqual([{ id: 'usage:n1:a', deliveryId: 'd1', tokens: 200n }]);
    expect(v.disputes).toEqual([]);
  });

  test('no such delivery, or a failed check: rejected, nothing billed', () => {
    const v = verifyBatch(batch([rec('a', { delivery: null }), rec('b', { delivery: { ...DELIVERY, providerId: 'other' } }), rec('c', { record: { ...rec('c').record, status: 'error' } })]));
    expect(v.records.map((r) => [r.verdict, r.billable, r.flags[0]])).toEqual([
      ['rejected', 0n, 'unknown_delivery'],
      ['rejected', 0n, 'wrong_provider'],
      ['rejected', 0n, 'failed_request'],
    ]);
    expect(v.usage).toEqual([]);
  });

  test('an audit request is never billed; a re-count beyond tolerance opens a dispute holding nothing', () => {
    const v = verifyBatch(batch([rec('a', { audit: { recountedCompletion: 90, answeredCompletion: 100 } }), rec('b', { keyKind: 'audit' })]));
    expect(v.records.map((r) => [r.verdict, r.billable, r.flags])).toEqual([
      ['audit', 0n, ['audit_mismatch']],
      ['audit', 0n, []],
    ]);
    expect(v.disputes).toEqual([
      { key: 'audit:n1:a', deliveryId: 'd1', nodeId: 'n1', kind: 'audit_mismatch', tokens: 0n, evidence: { requestId: 'a', reportedCompletion: 100, recountedCompletion: 90, answeredCompletion: 100 } },
    ]);
  });

  test('an implausible count is disputed whole', () => {
    const v = verifyBatch(batch([rec('a', { record: { ...rec('a').record, completionTokens: 5_000 } })]));
    expect(v.records[0]).toEqual({ requestId: 'a', verdict: 'disputed', billable: 0n, withinSla: true, flags: ['implausible'] });
    expect(v.disputes).toMatchObject([{ key: 'record:n1:a:implausible', kind: 'implausible', tokens: 5_100n }]);
  });

  test("the buyer's count is billed when the node's exceeds it beyond tolerance; the excess is disputed", () => {
    const within = verifyBatch(batch([rec('a', { buyerReport: { promptTokens: 400, completionTokens: 98 } })]));
    expect(within.records[0]).toMatchObject({ verdict: 'verified', billable: 200n });
    const beyond = verifyBatch(batch([rec('a', { buyerReport: { promptTokens: 400, completionTokens: 90 } })]));
    expect(beyond.records[0]).toEqual({ requestId: 'a', verdict: 'disputed', billable: 190n, withinSla: true, flags: ['buyer_mismatch'] });
    expect(beyond.usage).toEqual([{ id: 'usage:n1:a', deliveryId: 'd1', tokens: 190n }]);
    expect(beyond.disputes).toMatchObject([{ key: 'record:n1:a:buyer_mismatch', kind: 'buyer_mismatch', tokens: 10n }]);
  });

  test('counters that grew less than reported hold every verified record out, one dispute per delivery', () => {
    const records = [rec('a'), rec('b', { deliveryId: 'd2' }), rec('c'), rec('d', { buyerReport: { promptTokens: 400, completionTokens: 50 } })];
    const v = verifyBatch(batch(records, counters(1_600, 300, { promptTokens: 1_600, completionTokens: 400 })));
    expect(v.records.map((r) => [r.verdict, r.billable])).toEqual([
      ['disputed', 0n],
      ['disputed', 0n],
      ['disputed', 0n],
      ['disputed', 150n], // already disputed by the buyer's count: billed at that count
    ]);
    expect(v.disputes.filter((d) => d.kind === 'counter_mismatch').map((d) => [d.key, d.tokens])).toEqual([
      ['batch:n1:b1:d1:counter_mismatch', 400n],
      ['batch:n1:b1:d2:counter_mismatch', 200n],
    ]);
    expect(v.disputes.at(-1)!.evidence).toEqual({
      batchId: 'b1',
      from: '1970-01-01T00:00:00.000Z',
      to: '1970-01-01T00:00:10.000Z',
      reported: { requests: 1, promptTokens: 1_600, completionTokens: 400 },
      counters: { promptTokens: 1_600, generationTokens: 300 },
    });
    expect(verifyBatch(batch(records, counters(1_600, 400, { promptTokens: 1_600, completionTokens: 400 }))).disputes.map((d) => d.kind)).toEqual(['buyer_mismatch']);
  });

  test('disagreeing counters are recorded against the node even when the batch has nothing to hold', () => {
    const audits = [rec('a', { keyKind: 'audit' }), rec('b', { delivery: null })];
    const v = verifyBatch(batch(audits, counters(0, 0, { promptTokens: 1_600, completionTokens: 400 })));
    expect(v.records.map((r) => r.verdict)).toEqual(['audit', 'rejected']);
    expect(v.disputes.map((d) => [d.key, d.kind, d.tokens])).toEqual([['batch:n1:b1:d1:counter_mismatch', 'counter_mismatch', 0n]]);
  });

  test('late buyer reports beyond tolerance open disputes holding nothing', () => {
    const report = { nodeId: 'n1', requestId: 'a', deliveryId: 'd1', reportedBillable: 200n, reported: { promptTokens: 400, completionTokens: 100 }, inputWeightBps: 2_500 };
    expect(lateBuyerReportDisputes([{ ...report, buyer: { promptTokens: 400, completionTokens: 98 } }])).toEqual([]);
    expect(lateBuyerReportDisputes([{ ...report, buyer: { promptTokens: 400, completionTokens: 90 } }])).toEqual([
      {
        key: 'record:n1:a:buyer_mismatch',
        deliveryId: 'd1',
        nodeId: 'n1',
        kind: 'buyer_mismatch',
        tokens: 0n,
        evidence: { requestId: 'a', alreadyBilled: '200', reported: { promptTokens: 400, completionTokens: 100 }, buyer: { promptTokens: 400, completionTokens: 90 } },
      },
    ]);
  });
});

describe('verifyBatch, properties', () => {
  const counts = fc.record({ promptTokens: fc.integer({ min: 0, max: 4_000 }), completionTokens: fc.integer({ min: 0, max: 2_000 }) });
  const record = fc.record({
    deliveryId: fc.constantFrom('d1', 'd2', 'd3'),
    delivery: fc.option(fc.record({ providerId: fc.constantFrom('p', 'p', 'q'), modelClassId: fc.constantFrom('m', 'm', 'x'), windowStart: fc.constant(0), windowEnd: fc.constant(100_000) }), { nil: null, freq: 8 }),
    counts,
    startedAt: fc.integer({ min: -10_000, max: 110_000 }),
    durationMs: fc.integer({ min: 0, max: 30_000 }),
    ttftMs: fc.integer({ min: 0, max: 3_000 }),
    status: fc.constantFrom<'ok' | 'error'>('ok', 'ok', 'ok', 'error'),
    keyKind: fc.constantFrom<'buyer' | 'audit' | null>('buyer', 'buyer', 'audit', null),
    // the buyer's count near the node's, so both sides of the tolerance show up
    buyerDelta: fc.option(fc.record({ prompt: fc.integer({ min: -20, max: 20 }), completion: fc.integer({ min: -40, max: 10 }) }), { nil: null }),
    audit: fc.option(fc.record({ recountedCompletion: fc.option(fc.integer({ min: 0, max: 2_000 }), { nil: null }), answeredCompletion: fc.option(fc.integer({ min: 0, max: 2_000 }), { nil: null }) }), { nil: null, freq: 6 }),
  });
  const facts = fc.record({
    records: fc.array(record, { maxLength: 25 }),
    tokensPerSecond: fc.integer({ min: 20, max: 5_000 }),
    model: fc.record({ inputWeightBps: fc.integer({ min: 0, max: 10_000 }), minTokensPerSecond: fc.integer({ min: 1, max: 50 }), maxTtftMs: fc.integer({ min: 100, max: 3_000 }) }),
  }).map(({ records, tokensPerSecond, model }): BatchFacts =>
    batch(
      records.map((r, i) => ({
        requestId: `r${i}`,
        deliveryId: r.deliveryId,
        record: { ...r.counts, startedAt: r.startedAt, finishedAt: r.startedAt + r.durationMs, ttftMs: r.ttftMs, status: r.status },
        delivery: r.delivery,
        node: { providerId: 'p', modelClassId: 'm', tokensPerSecond },
        model,
        keyKind: r.keyKind,
        buyerReport: r.buyerDelta && { promptTokens: Math.max(0, r.counts.promptTokens + r.buyerDelta.prompt), completionTokens: Math.max(0, r.counts.completionTokens + r.buyerDelta.completion) },
        audit: r.audit,
      })),
    ),
  );
  const reportedOf = (r: BatchRecordFacts) => billableTokens(r.record.promptTokens, r.record.completionTokens, r.model.inputWeightBps);
  const sum = (xs: readonly bigint[]) => xs.reduce((a, b) => a + b, 0n);

  test("billable tokens never exceed the node's count, nor the buyer's beyond tolerance", () => {
    fc.assert(
      fc.property(facts, (b) => {
        const v = verifyBatch(b);
        b.records.forEach((r, i) => {
          const billable = v.records[i].billable;
          expect(billable >= 0n && billable <= reportedOf(r)).toBe(true);
          if (r.buyerReport) expect(beyondTolerance(billable, billableTokens(r.buyerReport.promptTokens, r.buyerReport.completionTokens, r.model.inputWeightBps))).toBe(false);
        });
      }),
    );
  });

  test('one outcome per record, in order; the usage is exactly the billed records; rejected and audit records are never billed', () => {
    fc.assert(
      fc.property(facts, (b) => {
        const v = verifyBatch(b);
        expect(v.records.map((r) => r.requestId)).toEqual(b.records.map((r) => r.requestId));
        expect(v.usage).toEqual(b.records.flatMap((r, i) => (v.records[i].billable > 0n ? [{ id: `usage:n1:${r.requestId}`, deliveryId: r.deliveryId, tokens: v.records[i].billable }] : [])));
        b.records.forEach((r, i) => {
          const o = v.records[i];
          if (o.verdict === 'rejected' || o.verdict === 'audit') expect(o.billable).toBe(0n);
          if (!r.delivery) expect(o.verdict).toBe('rejected');
          else if (checkRecord(r.record, r.delivery, r.node, r.model).rejection === undefined && (r.audit || r.keyKind === 'audit')) expect(o.verdict).toBe('audit');
        });
        expect(new Set(v.disputes.map((d) => d.key)).size).toBe(v.disputes.length);
      }),
    );
  });

  test("a record's reported tokens are either billed or held in a dispute, never both and never lost", () => {
    fc.assert(
      fc.property(facts, (b) => {
        const v = verifyBatch(b);
        b.records.forEach((r, i) => {
          const o = v.records[i];
          if (o.verdict === 'rejected' || o.verdict === 'audit') return;
          const held = sum(v.disputes.filter((d) => d.key.startsWith(`record:n1:${r.requestId}:`)).map((d) => d.tokens));
          expect(o.billable + held).toBe(reportedOf(r));
        });
      }),
    );
  });

  test.each([
    ['counter_mismatch', { counters: counters(0, 0, { promptTokens: 10_000, completionTokens: 10_000 }) }],
    ['node_under_review', { underReview: true }],
    ['counter_mismatch', { counters: counters(0, 0, { promptTokens: 10_000, completionTokens: 10_000 }), underReview: true }],
  ] as const)("a %s moves every verified token into a dispute of its delivery, and bills nothing more", (kind, hold) => {
    fc.assert(
      fc.property(facts, (b) => {
        const plain = verifyBatch(b);
        const held = verifyBatch({ ...b, ...hold });
        const verified = plain.records.flatMap((o, i) => (o.verdict === 'verified' ? [[b.records[i].deliveryId, o.billable] as const] : []));
        // one hold per batch: the counters' when they disagree, else the review's
        expect(held.disputes.filter((d) => d.kind === 'counter_mismatch' || d.kind === 'node_under_review').every((d) => d.kind === kind)).toBe(true);
        const counterDisputes = held.disputes.filter((d) => d.kind === kind);
        expect(sum(held.usage.map((u) => u.tokens)) + sum(counterDisputes.map((d) => d.tokens))).toBe(sum(plain.usage.map((u) => u.tokens)));
        for (const d of counterDisputes) expect(d.tokens).toBe(sum(verified.filter(([id]) => id === d.deliveryId).map(([, t]) => t)));
        expect(held.records.some((o) => o.verdict === 'verified' && o.billable > 0n)).toBe(false);
        // agreeing counters change nothing
        expect(verifyBatch({ ...b, counters: counters(10_000, 10_000, { promptTokens: 0, completionTokens: 0 }) })).toEqual(plain);
      }),
    );
  });
});
