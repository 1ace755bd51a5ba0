import { Injectable } from '@nestjs/common';

/**
 * How long the work that must not wait (order entry's batches) is taking in this process, told
 * as it happens to the work that yields to it (usage ingest, see metering's IngestThrottle).
 * In-process on purpose: what competes for this process's connections and its share of the
 * machine is what it runs itself.
 */
@Injectable()
export class ForegroundLatency {
  private readonly listeners = new Set<(latencyMs: number, now: number) => void>();

  report(latencyMs: number): void {
    if (this.listeners.size === 0) return;
    const now = performance.now(); // a clock that never steps back
    for (const listener of this.listeners) listener(latencyMs, now);
  }

  /** `now` is `performance.now()`. Returns the unsubscribe. */
  onReport(listener: (latencyMs: number, now: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
