import type { KeyObject } from 'node:crypto';
import { type SignedUsageBatch, signUsageBatch } from '../protocol/usage-batch.js';
import type { AgentLog } from './proxy.js';
import { errorText, type UsageSpool } from './spool.js';

/**
 * Posts the spool's sealed batches to tokex, oldest first, one at a time, in the v1 wire format
 * (usage-batch.ts): the batch's JSON bytes as the body, exactly as signed, with `X-Tokex-Node`
 * and `X-Tokex-Signature` (the base64url Ed25519 signature of those bytes with the node's key).
 * A batch is signed again at each attempt; the bytes (and, Ed25519 being deterministic, the
 * signature) come out the same, since the stored batch is serialised the same way each time.
 *
 * - 2xx, or 409 / a 4xx saying the batch is already known: acknowledged, the file is deleted.
 * - network error, timeout, 5xx, 429: retried, with exponential backoff and jitter (capped).
 *   The same batch stays at the head, so later batches wait: order is kept.
 * - any other 4xx: not retried; logged and moved to SPOOL_DIR/rejected/ with tokex's answer.
 */

export const USAGE_BATCHES_PATH = '/v1/metering/usage-batches';

export interface UsagePosterOptions {
  readonly spool: UsageSpool;
  readonly tokexUrl: string;
  readonly privateKey: KeyObject | string;
  readonly log?: AgentLog;
  readonly fetch?: typeof globalThis.fetch;
  readonly baseBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Per request. */
  readonly timeoutMs?: number;
}

type Outcome = { kind: 'accepted' } | { kind: 'retry'; why: string } | { kind: 'rejected'; status: number | null; body: string };

export class UsagePoster {
  private readonly spool: UsageSpool;
  private readonly url: string;
  private readonly privateKey: KeyObject | string;
  private readonly log: AgentLog;
  private readonly fetch: typeof globalThis.fetch;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly timeoutMs: number;
  private running: Promise<void> | null = null;
  private stopping = false;
  private wake: (() => void) | null = null;
  private woken = false;
  private readonly inFlight = new AbortController();
  private failures = 0;

  constructor(options: UsagePosterOptions) {
    this.spool = options.spool;
    this.url = `${options.tokexUrl.replace(/\/+$/, '')}${USAGE_BATCHES_PATH}`;
    this.privateKey = options.privateKey;
    this.log = options.log ?? (() => undefined);
    const fetchImpl = options.fetch ?? globalThis.fetch;
    this.fetch = (input, init) => fetchImpl(input, init);
    this.baseBackoffMs = options.baseBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.spool.onSealed(() => this.kick());
  }

  /** Consecutive failed attempts on the batch at the head (0 when tokex is answering). */
  get consecutiveFailures(): number {
    return this.failures;
  }

  start(): void {
    this.running ??= this.loop().catch((error: unknown) => {
      this.log('error', 'the usage poster stopped', { err: errorText(error) });
    });
  }

  /** Posts now: ends an idle wait or a backoff. */
  kick(): void {
    this.woken = true;
    this.wake?.();
  }

  /** Stops after aborting the post in flight (its batch stays in the spool and is sent again later). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.inFlight.abort();
    this.kick();
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const batchId = this.spool.pendingBatches[0];
      if (batchId === undefined) {
        await this.sleep(Number.POSITIVE_INFINITY);
        continue;
      }
      const outcome = await this.post(batchId);
      if (this.stopping) return;
      if (outcome.kind === 'accepted') {
        this.failures = 0;
        await this.spool.acknowledge(batchId);
      } else if (outcome.kind === 'rejected') {
        this.failures = 0;
        this.log('error', 'tokex refused a usage batch; moved to rejected/', { batchId, status: outcome.status, answer: outcome.body.slice(0, 2_000) });
        await this.spool.reject(batchId, { status: outcome.status, body: outcome.body });
      } else {
        this.failures += 1;
        const delayMs = this.backoff(this.failures);
        this.log('warn', 'posting a usage batch failed; retrying', { batchId, why: outcome.why, attempt: this.failures, retryInMs: delayMs });
        await this.sleep(delayMs);
      }
    }
  }

  private async post(batchId: string): Promise<Outcome> {
    let signed: SignedUsageBatch;
    try {
      signed = signUsageBatch(await this.spool.readBatch(batchId), this.privateKey);
    } catch (error) {
      // Cannot be signed or read as stored: retrying would not change that.
      return { kind: 'rejected', status: null, body: `not sent: ${errorText(error)}` };
    }
    let response: Response;
    let text: string;
    try {
      response = await this.fetch(this.url, {
        method: 'POST',
        headers: { ...signed.headers, accept: 'application/json' },
        body: signed.body, // the signed bytes, as they are
        signal: AbortSignal.any([this.inFlight.signal, AbortSignal.timeout(this.timeoutMs)]),
      });
      text = await response.text();
    } catch (error) {
      return { kind: 'retry', why: errorText(error) };
    }
    if (response.ok || alreadyKnown(response.status, text)) {
      this.log('info', 'usage batch acknowledged', { batchId, status: response.status });
      return { kind: 'accepted' };
    }
    if (response.status === 429 || response.status >= 500) return { kind: 'retry', why: `tokex answered ${response.status}` };
    return { kind: 'rejected', status: response.status, body: text };
  }

  /** Exponential, capped, with "equal jitter": half the delay is fixed, half random. */
  private backoff(attempt: number): number {
    const ceiling = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** Math.min(attempt - 1, 30));
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || this.stopping) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        this.woken = false;
        resolve();
      };
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
      this.wake = done;
    });
  }
}

/** tokex already has this batch: a conflict, or a 4xx that says so. */
function alreadyKnown(status: number, body: string): boolean {
  if (status === 409) return true;
  return status >= 400 && status < 500 && /already (known|received|recorded|exists|accepted)|duplicate[_ ]batch/i.test(body);
}
