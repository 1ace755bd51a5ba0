/**
 * A node's cumulative reconciliation with its own counters (market-rules §7, docs/metering.md).
 * Pure: no I/O, no clock; times are milliseconds since the epoch.
 *
 * From a baseline sample of the node's counters, the reconciliation keeps two running totals up
 * to the latest sample it has reached: how much the counters grew (a drop counts as a restart, as
 * Prometheus's `increase()` does), and what the node reported for its successful requests that
 * started at or after the baseline and finished by that sample. Each batch moves it to the latest
 * sample taken before the batch's first request finished: a node posts its requests in the order
 * they finish, so by then every request that finished before that sample has been reported, and
 * the totals compare like with like, with no slack for requests not posted yet. (Judged on each
 * batch's own span, as before, the check was masked by requests that finished in the span but
 * sat in batches not posted yet, and whether it caught an inflation depended on where scrapes
 * fell.) What remains is the part of requests in flight at a sample that a server counts before
 * they finish (vLLM counts prompt tokens at prefill and generated tokens as they come): bounded,
 * against totals that keep growing.
 *
 * Every successful record started since the baseline is counted exactly once, whatever order the
 * batches are verified in: when the reconciliation passes its finish, if its batch was verified
 * by then (or is the one being verified), else when its own batch is verified.
 */
import type { CounterFacts } from './verify-batch.js';
import type { RecordFacts } from './verification.js';

/** The node's counter totals at a scrape. */
export interface CounterReading {
  readonly at: number;
  readonly prompt: number;
  readonly generation: number;
}

export interface ReconciliationState {
  readonly baselineAt: number;
  /** The latest sample reached, and the counters' values in it. */
  readonly checked: CounterReading;
  /** The counters' growth since the baseline. */
  readonly counted: { readonly prompt: number; readonly generation: number };
  /** The node's successful requests started at or after the baseline, as it reported them. */
  readonly reported: { readonly requests: number; readonly promptTokens: number; readonly completionTokens: number };
}

/** A reconciliation that starts at `baseline`, with nothing counted or reported yet. */
export function startReconciliation(baseline: CounterReading): ReconciliationState {
  return {
    baselineAt: baseline.at,
    checked: baseline,
    counted: { prompt: 0, generation: 0 },
    reported: { requests: 0, promptTokens: 0, completionTokens: 0 },
  };
}

/**
 * Verifies a batch against the reconciliation: adds the batch's records it has already passed,
 * moves it over `readings` (the samples after the last one reached, in time order, up to the one
 * chosen for the batch; earlier ones are ignored), and adds the records finished in the stretch
 * just passed: the batch's own, and `verified` (other batches' records already verified, which
 * finished in that stretch). Returns the new state and the facts to judge.
 */
export function reconcile(
  state: ReconciliationState,
  batch: readonly RecordFacts[],
  verified: readonly RecordFacts[],
  readings: readonly CounterReading[],
): { state: ReconciliationState; facts: CounterFacts } {
  const from = state.checked.at;
  let checked = state.checked;
  let { prompt, generation } = state.counted;
  for (const reading of readings) {
    if (reading.at <= checked.at) continue;
    prompt += increase(checked.prompt, reading.prompt);
    generation += increase(checked.generation, reading.generation);
    checked = reading;
  }
  const counts = (r: RecordFacts) => r.status === 'ok' && r.startedAt >= state.baselineAt;
  const passed = (r: RecordFacts) => r.finishedAt > from && r.finishedAt <= checked.at;
  let { requests, promptTokens, completionTokens } = state.reported;
  for (const r of [...batch.filter((b) => b.finishedAt <= from || passed(b)), ...verified.filter(passed)]) {
    if (!counts(r)) continue;
    requests++;
    promptTokens += r.promptTokens;
    completionTokens += r.completionTokens;
  }
  const next: ReconciliationState = { baselineAt: state.baselineAt, checked, counted: { prompt, generation }, reported: { requests, promptTokens, completionTokens } };
  return {
    state: next,
    facts: {
      from: next.baselineAt,
      to: checked.at,
      reported: next.reported,
      counted: { promptTokens: Math.floor(prompt), generationTokens: Math.floor(generation) },
    },
  };
}

/** A counter's growth between two readings; after a drop (a restart) the whole new value. */
const increase = (before: number, after: number): number => (after >= before ? after - before : after);
