/**
 * How fast a process stores usage records while its order entry runs (issue 15, item 4). A fleet
 * posting usage at full speed takes the CPU that order commits need, and PostgreSQL has no
 * priorities: measured on two cores, orders at 1,000/s went from a p99 of 49 ms alone to seconds
 * under ingest, their batches' statements ten times slower. So ingest yields: it is admitted
 * through a token bucket whose rate follows order entry's latency.
 *
 * - It starts at `minRate` and grows only as order entry stays calm under it: starting at the
 *   ceiling, the first second of a fleet's ingest took order entry's p99 from 45 ms to 700 ms
 *   before the rate came down (bench:metering).
 * - Every `interval`, the order batches reported in it are averaged. Slower than `targetMs`, with
 *   ingest running in the interval: the rate halves, from what ingest actually stored in it if that
 *   is lower, down to `minRate` (usage keeps flowing, slowly, however busy order entry is). An
 *   average, not the slowest batch: order entry alone has slow batches now and then; and no cut
 *   when no records were stored, as ingest was not the cause then.
 * - Otherwise the rate grows by `growth` (a twentieth: doubling in about 14 intervals), up to
 *   `maxRate`, if ingest wanted it (a batch had to wait or still waits, or it used at least half
 *   of it): a rate nobody used proves nothing, and would let the first burst after a quiet spell
 *   through at full speed.
 * - A batch goes as soon as the bucket owes nothing, whatever its size, and its records put the
 *   bucket into debt; the next batch waits until that is repaid at the rate. One that would wait
 *   longer than `maxWaitMs` is refused instead, taking nothing, and its sender retries later. (A
 *   batch that had to fit its tokens first could never go at the floor if it were bigger than
 *   what the floor earns in `maxWaitMs`.)
 *
 * Pure: time is given by the caller, in milliseconds, from a clock that does not step back.
 */
export interface IngestThrottleOptions {
  /** Order batches (reading their facts and committing) slower than this on average over an interval are congestion. */
  readonly targetMs: number;
  readonly intervalMs: number;
  /** Records a second: the floor (its start) and the ceiling. */
  readonly minRate: number;
  readonly maxRate: number;
  /** The rise per calm interval, as a fraction of the rate. */
  readonly growth: number;
  readonly maxWaitMs: number;
}

export const DEFAULT_INGEST_THROTTLE: Omit<IngestThrottleOptions, 'targetMs'> = {
  intervalMs: 100,
  minRate: 1_000,
  maxRate: 1_000_000,
  growth: 0.05,
  maxWaitMs: 2_000,
};

export class IngestThrottle {
  private rate: number;
  private tokens: number;
  private refilledAt: number;
  private windowStart: number;
  /** Order batches reported in this window, and their total latency. */
  private batches = 0;
  private batchMs = 0;
  /** Records admitted since the window started, to know what ingest actually ran at. */
  private admitted = 0;
  /** Whether a batch had to wait, was refused or went into debt in this window: ingest wanted more than the rate. */
  private wanting = false;

  constructor(
    private readonly options: IngestThrottleOptions,
    now: number,
  ) {
    this.rate = options.minRate;
    this.tokens = this.burst();
    this.refilledAt = now;
    this.windowStart = now;
  }

  /** Records a second admitted now. */
  get recordsPerSecond(): number {
    return this.rate;
  }

  /** An order batch took `latencyMs`. */
  observe(latencyMs: number, now: number): void {
    this.advance(now);
    this.batches++;
    this.batchMs += latencyMs;
  }

  /** How long the debt takes to repay, in milliseconds: what a batch arriving now would wait. */
  get owedMs(): number {
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.rate;
  }

  /**
   * Admits `records`: how many milliseconds they must wait before they are stored (0: at once),
   * or undefined when that would be longer than `maxWaitMs` (refused; nothing is taken).
   */
  admit(records: number, now: number): number | undefined {
    this.advance(now);
    const waitMs = this.owedMs;
    if (waitMs > 0 || records > this.tokens) this.wanting = true;
    if (waitMs > this.options.maxWaitMs) return undefined;
    this.tokens -= records;
    this.admitted += records;
    return Math.ceil(waitMs);
  }

  /**
   * Refills the bucket, and closes the window when an interval has passed: order batches slower
   * than the target on average halve the rate; a calm window in which ingest wanted more raises it.
   */
  private advance(now: number): void {
    const owedMs = this.owedMs; // before the refill: how long since the last call the bucket was in debt
    if (now > this.refilledAt) {
      this.tokens = Math.min(this.burst(), this.tokens + ((now - this.refilledAt) * this.rate) / 1000);
      this.refilledAt = now;
    }
    const elapsed = now - this.windowStart;
    if (elapsed < this.options.intervalMs) return;
    if (this.batches > 0 && this.batchMs / this.batches > this.options.targetMs) {
      if (this.admitted > 0) this.setRate(Math.min(this.rate, (this.admitted * 1000) / elapsed) / 2, now);
    } else if (this.wanting || owedMs > 0 || this.admitted >= (this.rate * elapsed) / 2000) {
      // Each interval the bucket was in debt counts (batches waiting on it make no calls), but
      // only those: a quiet spell after a busy window raises the rate once, not once an interval.
      const inDebt = Math.min(Math.floor(elapsed / this.options.intervalMs), Math.ceil(owedMs / this.options.intervalMs));
      this.setRate(this.rate * (1 + this.options.growth) ** Math.max(1, inDebt), now);
    }
    this.batches = 0;
    this.batchMs = 0;
    this.admitted = 0;
    this.wanting = false;
    this.windowStart = now;
  }

  private setRate(rate: number, now: number): void {
    this.rate = Math.min(this.options.maxRate, Math.max(this.options.minRate, rate));
    this.tokens = Math.min(this.tokens, this.burst());
    this.refilledAt = Math.max(this.refilledAt, now);
  }

  /** At most an interval's worth of records saved up. */
  private burst(): number {
    return (this.rate * this.options.intervalMs) / 1000;
  }
}
