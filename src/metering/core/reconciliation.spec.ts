import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { type CounterReading, reconcile, type ReconciliationState, startReconciliation } from './reconciliation.js';
import { counterMismatch } from './verify-batch.js';
import type { RecordFacts } from './verification.js';

const reading = (at: number, prompt: number, generation: number): CounterReading => ({ at, prompt, generation });
const record = (startedAt: number, finishedAt: number, promptTokens: number, completionTokens: number, status: 'ok' | 'error' = 'ok'): RecordFacts => ({
  startedAt,
  finishedAt,
  promptTokens,
  completionTokens,
  ttftMs: 0,
  status,
});

describe('cumulative reconciliation, by example', () => {
  test("moves over the samples, across a restart, and counts the successful records since the baseline it passes", () => {
    const start = startReconciliation(reading(1_000, 500, 50));
    const batch = [record(900, 1_500, 999, 999), record(1_100, 1_900, 40, 10), record(1_200, 1_800, 7, 7, 'error'), record(1_300, 2_500, 60, 20), record(2_600, 3_500, 5, 5)];
    const { state, facts } = reconcile(start, batch, [], [reading(2_000, 560, 70), reading(3_000, 30, 8)]); // restarted between 2 s and 3 s
    // started before the baseline: not counted; failed: not counted; finished after the last sample reached: not yet
    expect(state.reported).toEqual({ requests: 2, promptTokens: 100, completionTokens: 30 });
    expect(state.counted).toEqual({ prompt: 60 + 30, generation: 20 + 8 });
    expect(state.checked).toEqual(reading(3_000, 30, 8));
    expect(facts).toEqual({ from: 1_000, to: 3_000, reported: state.reported, counted: { promptTokens: 90, generationTokens: 28 } });
  });

  test('a record is counted once: when passed if its batch is verified by then, else with its own batch', () => {
    const start = startReconciliation(reading(0, 0, 0));
    const early = record(100, 900, 10, 10); // in a batch verified late
    const other = record(200, 950, 20, 20); // in a batch verified already
    const first = reconcile(start, [record(300, 1_500, 1, 1)], [other], [reading(1_000, 30, 30)]).state;
    expect(first.reported).toEqual({ requests: 1, promptTokens: 20, completionTokens: 20 }); // `other`; the batch's own record is past 1,000
    const late = reconcile(first, [early], [], []).state; // passed already: counted with its batch
    expect(late.reported).toEqual({ requests: 2, promptTokens: 30, completionTokens: 30 });
  });

  test('an inflation within each batch\'s tolerance shows in the totals', () => {
    // A request of 10 prompt and 100 completion tokens every 100 ms, reported as 101; batches of
    // 10, each checked against the latest sample before its first request finished.
    let state = startReconciliation(reading(0, 0, 0));
    const all: RecordFacts[] = [];
    let flaggedAt: number | undefined;
    for (let batch = 0; batch < 200 && flaggedAt === undefined; batch++) {
      const records = Array.from({ length: 10 }, (_, i) => record((batch * 10 + i) * 100 + 1, (batch * 10 + i) * 100 + 90, 10, 101));
      const samples = Array.from({ length: 10 }, (_, i) => {
        const at = (batch * 10 + i) * 100 + 50; // finished by then: requests up to the previous one
        const done = batch * 10 + i;
        return reading(at, done * 10, done * 100);
      }).filter((s) => s.at <= records[0].finishedAt);
      const result = reconcile(state, records, all, samples);
      all.push(...records);
      state = result.state;
      if (counterMismatch(result.facts)) flaggedAt = (batch + 1) * 10;
    }
    expect(flaggedAt).toBeDefined();
    expect(flaggedAt!).toBeLessThanOrEqual(1_000);
  });
});

describe('cumulative reconciliation, properties', () => {
  // A node's traffic in start order, cut into batches by finish time as an agent posts them, a
  // scrape every `every` ms, and an order the batches are verified in.
  const scenario = fc
    .record({
      requests: fc.array(fc.record({ gap: fc.nat(400), duration: fc.integer({ min: 1, max: 2_000 }), prompt: fc.nat(1_000), completion: fc.nat(1_000), fails: fc.boolean() }), { minLength: 1, maxLength: 50 }),
      batchMs: fc.integer({ min: 100, max: 3_000 }),
      every: fc.integer({ min: 50, max: 2_000 }),
      seed: fc.integer(),
    })
    .map(({ requests, batchMs, every, seed }) => {
      let t = 1_000;
      const records = requests.map((r) => {
        t += r.gap;
        return record(t, t + r.duration, r.prompt, r.completion, r.fails ? 'error' : 'ok');
      });
      const batches = new Map<number, RecordFacts[]>();
      for (const r of records) {
        const cut = Math.ceil(r.finishedAt / batchMs);
        batches.set(cut, [...(batches.get(cut) ?? []), r]);
      }
      const ordered = [...batches.values()];
      // a shuffled verification order, from the seed
      const order = ordered.map((b, i) => ({ b, k: Math.sin(seed + i) })).sort((x, y) => x.k - y.k).map((x) => x.b);
      const end = Math.max(...records.map((r) => r.finishedAt));
      return { records, order, every, end };
    });
  // The server's counters: a successful request's tokens count when it finishes (as the stub's do).
  const countersAt = (records: readonly RecordFacts[], at: number): CounterReading => {
    const done = records.filter((r) => r.status === 'ok' && r.finishedAt <= at);
    return reading(at, done.reduce((a, r) => a + r.promptTokens, 0), done.reduce((a, r) => a + r.completionTokens, 0));
  };
  /** Verifies every batch in `order` as the job does; returns each check's facts and the final state. */
  const verifyAll = (records: readonly RecordFacts[], reported: readonly RecordFacts[][], every: number, end: number) => {
    const samples = Array.from({ length: Math.ceil(end / every) + 1 }, (_, i) => countersAt(records, i * every));
    let state: ReconciliationState = startReconciliation(samples[0]);
    const verified: RecordFacts[] = [];
    const facts = [];
    for (const batch of reported) {
      const firstFinish = Math.min(...batch.map((r) => r.finishedAt));
      const readings = samples.filter((s) => s.at > state.checked.at && s.at <= firstFinish);
      const result = reconcile(state, batch, verified, readings);
      state = result.state;
      facts.push(result.facts);
      verified.push(...batch);
    }
    return { state, facts };
  };

  test('an honest node is never flagged, whatever the order its batches are verified in and wherever scrapes fall', () => {
    fc.assert(
      fc.property(scenario, ({ records, order, every, end }) => {
        const { facts } = verifyAll(records, order, every, end);
        for (const f of facts) expect(counterMismatch(f)).toBeUndefined();
      }),
    );
  });

  test('every successful record the reconciliation passed is counted exactly once, in any verification order', () => {
    fc.assert(
      fc.property(scenario, ({ records, order, every, end }) => {
        const { state } = verifyAll(records, order, every, end);
        const passed = records.filter((r) => r.status === 'ok' && r.finishedAt <= state.checked.at);
        expect(state.reported).toEqual({
          requests: passed.length,
          promptTokens: passed.reduce((a, r) => a + r.promptTokens, 0),
          completionTokens: passed.reduce((a, r) => a + r.completionTokens, 0),
        });
        // and the counters grew by exactly those tokens (they count a request when it finishes)
        expect(state.counted).toEqual({ prompt: state.reported.promptTokens, generation: state.reported.completionTokens });
      }),
    );
  });

  test('a node reporting more than it served by more than the tolerance is flagged once the reconciliation has passed it', () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 2, max: 50 }), ({ records, order, every, end }, inflatePct) => {
        const inflate = (r: RecordFacts) => ({ ...r, completionTokens: Math.ceil((r.completionTokens * (100 + inflatePct)) / 100) + 3 });
        // a last batch after everything, so the reconciliation passes every request
        const closing = [record(end + 10 * every, end + 20 * every, 0, 0)];
        const { state, facts } = verifyAll(records, [...order.map((b) => b.map(inflate)), closing], every, end + 20 * every);
        // Nothing to catch when every request failed: failed requests are not counted, and the
        // closing record is honest (when the reconciliation passed it, it counted as a reported
        // request, and a scenario of failures alone expected a flag for nothing inflated).
        if (!records.some((r) => r.status === 'ok') || state.reported.requests === 0) return;
        expect(counterMismatch(facts[facts.length - 1])).toBeDefined();
      }),
    );
  });
});
