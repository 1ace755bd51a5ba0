/**
 * Breach evidence from the exchange's health probes (market-rules §5: a provider is in breach when
 * "its node failed the exchange's probes for more than 1 % of the window"). Pure: no I/O, no clock;
 * times are integer milliseconds since the epoch.
 *
 * The rule. A provider serves a model class with one or more nodes, and a buyer is served if any of
 * them answers, so the provider is judged as a whole:
 *
 * - Each probe speaks for its node from the probe's time until the node's next probe, but for at
 *   most `2 * probeIntervalMs`: a probe older than two intervals says nothing (two, so that one
 *   late or lost round does not open a gap).
 * - At an instant, the provider is UP if some node's latest still-fresh probe was ok, DOWN if at
 *   least one node has a fresh probe and none of those fresh probes was ok, and UNKNOWN if no node
 *   has a fresh probe. Unknown time counts as not down: it means the exchange's prober was not
 *   looking (itself down, or the node was not due), and the exchange cannot blame a provider for
 *   its own gap.
 * - Two probes of the same node at the same millisecond: the ok one is taken as the latest, so an
 *   ok answer is never hidden by a simultaneous failure.
 * - Breach iff `downMs / windowMs > thresholdBps / 10000`, compared exactly in integers.
 *
 * Probes shortly before the window may be passed in (they cover its first instants); only the
 * part of each probe's validity inside [windowStart, windowEnd) counts, and only probes taken
 * inside the window are counted in `probes` and `failedProbes`.
 */
export interface ProbeSample {
  readonly nodeId: string;
  /** When the probe was sent, ms since the epoch. */
  readonly at: number;
  readonly ok: boolean;
}

export interface ProbeEvidenceInput {
  readonly windowStart: number;
  /** Exclusive. */
  readonly windowEnd: number;
  readonly probeIntervalMs: number;
  readonly samples: ReadonlyArray<ProbeSample>;
  /** Breach above this share of the window, in basis points; default 100 = 1 %. */
  readonly thresholdBps?: number;
}

export interface ProbeVerdict {
  /** Probes taken inside the window. */
  readonly probes: number;
  readonly failedProbes: number;
  /** Time inside the window the provider was down, by the rule above. */
  readonly downMs: number;
  readonly windowMs: number;
  readonly breach: boolean;
}

export const DEFAULT_BREACH_THRESHOLD_BPS = 100;
/** How many probe intervals a probe stays fresh. */
export const PROBE_FRESH_INTERVALS = 2;

export function probeEvidence(input: ProbeEvidenceInput): ProbeVerdict {
  const { windowStart, windowEnd, probeIntervalMs, samples } = input;
  const thresholdBps = input.thresholdBps ?? DEFAULT_BREACH_THRESHOLD_BPS;
  for (const [name, value] of Object.entries({ windowStart, windowEnd, probeIntervalMs, thresholdBps })) {
    if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be an integer`);
  }
  if (probeIntervalMs <= 0) throw new RangeError('probeIntervalMs must be positive');
  if (thresholdBps < 0 || thresholdBps > 10_000) throw new RangeError('thresholdBps must be within 0..10000');
  const windowMs = Math.max(0, windowEnd - windowStart);

  let probes = 0;
  let failedProbes = 0;
  const byNode = new Map<string, ProbeSample[]>();
  for (const s of samples) {
    if (!Number.isSafeInteger(s.at)) throw new RangeError('probe times must be integer milliseconds');
    if (s.at >= windowStart && s.at < windowEnd) {
      probes++;
      if (!s.ok) failedProbes++;
    }
    const list = byNode.get(s.nodeId);
    if (list) list.push(s);
    else byNode.set(s.nodeId, [s]);
  }

  // Each probe's validity, clipped to the window, as +1/-1 events on an "ok" or a "failing" count.
  const events: Array<{ at: number; ok: number; failing: number }> = [];
  const freshMs = PROBE_FRESH_INTERVALS * probeIntervalMs;
  for (const list of byNode.values()) {
    // Failures first at equal times, so the ok probe is the latest one (see the rule above).
    list.sort((a, b) => a.at - b.at || Number(a.ok) - Number(b.ok));
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      const next = i + 1 < list.length ? list[i + 1].at : Number.POSITIVE_INFINITY;
      const from = Math.max(s.at, windowStart);
      const to = Math.min(s.at + freshMs, next, windowEnd);
      if (to <= from) continue;
      events.push({ at: from, ok: s.ok ? 1 : 0, failing: s.ok ? 0 : 1 });
      events.push({ at: to, ok: s.ok ? -1 : 0, failing: s.ok ? 0 : -1 });
    }
  }
  events.sort((a, b) => a.at - b.at);

  let downMs = 0;
  let ok = 0;
  let failing = 0;
  for (let i = 0; i < events.length; i++) {
    ok += events[i].ok;
    failing += events[i].failing;
    const until = i + 1 < events.length ? events[i + 1].at : events[i].at;
    if (failing > 0 && ok === 0) downMs += until - events[i].at;
  }

  // BigInt: windows of a month times 10,000 stay exact.
  const breach = BigInt(downMs) * 10_000n > BigInt(windowMs) * BigInt(thresholdBps);
  return { probes, failedProbes, downMs, windowMs, breach };
}
