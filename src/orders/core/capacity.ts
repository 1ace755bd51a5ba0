import { unprocessable, type DomainError } from '../../common/domain-error.js';
import type { SpotTerms } from '../../markets/instrument-terms.js';
import { lotsToTokens } from '../../markets/price.js';

/** A selling provider's enabled nodes for the instrument's model class, and what it sold in the window. */
export interface ProviderCapacity {
  readonly activeNodes: number;
  /** Declared tokens per second, summed over its enabled nodes. */
  readonly tokensPerSecond: bigint;
  /** Lots sold within the delivery window before this batch (undelivered until settlement says otherwise). */
  readonly soldBefore: number;
}

export const NO_CAPACITY: ProviderCapacity = { activeNodes: 0, tokensPerSecond: 0n, soldBefore: 0 };

/**
 * market-rules §4: a spot sell needs an enabled node of the model class, and the provider's open
 * sells plus what it sold within a delivery window (this batch's fills included) may not exceed
 * what its nodes declared they can serve in that window: `tokensPerSecond × window`.
 * `committedLots` is open + sold + the new quantity. Returns the refusal, or undefined.
 */
export function spotCapacityRefusal(terms: SpotTerms, capacity: ProviderCapacity, committedLots: number): DomainError | undefined {
  if (capacity.activeNodes === 0) {
    return unprocessable('NO_ACTIVE_NODE', `a sell of ${terms.symbol} needs an enabled inference node of model class ${terms.modelClassId}`);
  }
  const committed = BigInt(lotsToTokens(committedLots, terms));
  const limit = capacity.tokensPerSecond * BigInt(terms.spotWindowSeconds);
  if (committed > limit) {
    return unprocessable('CAPACITY_EXCEEDED', `this sell would commit ${committed} tokens in a delivery window; your enabled nodes can serve ${limit}`);
  }
  return undefined;
}

/**
 * Lots a provider sold, by time, kept only as long as they count in a delivery window. The writer
 * keeps one per provider across batches, so the check does not grow with a provider's history.
 */
export class SalesWindow {
  private readonly entries: Array<{ at: number; lots: number }> = [];
  private total = 0;

  add(at: number, lots: number): void {
    this.entries.push({ at, lots });
    this.total += lots;
  }

  /** Lots sold after `start`; older entries are dropped for good (the window only moves forward). */
  since(start: number): number {
    let drop = 0;
    while (drop < this.entries.length && this.entries[drop].at <= start) this.total -= this.entries[drop++].lots;
    if (drop > 0) this.entries.splice(0, drop);
    return this.total;
  }
}
