import { type DomainError, unprocessable } from '../../common/domain-error.js';
import type { ForwardTerms } from '../../markets/instrument-terms.js';
import { forwardCapacityRefusal, spreadOverDays } from './capacity.js';
import type { ForwardCapacity } from './forward-book.js';

const DAY_MS = 86_400_000;

/** The UTC day numbers (ms since epoch / one day) of a contract's delivery period. */
export function periodDays(terms: Pick<ForwardTerms, 'deliveryStart' | 'deliveryEnd'>): number[] {
  const days: number[] = [];
  for (let at = terms.deliveryStart.getTime(); at < terms.deliveryEnd.getTime(); at += DAY_MS) days.push(Math.floor(at / DAY_MS));
  return days;
}

/**
 * A sell that grows a provider's short to `shortLots` (with its open sells) on this contract needs
 * an enabled node of the model class, and on every day of the period that short's daily share plus
 * what the provider already committed that day (other contracts, spot deliveries) must fit what its
 * nodes declared: `tokensPerSecond × 86,400` (market-rules §6).
 */
export function sellCapacityRefusal(terms: ForwardTerms, capacity: ForwardCapacity | undefined, shortLots: number): DomainError | undefined {
  const days = periodDays(terms);
  const refusal = forwardCapacityRefusal({
    activeNodes: capacity?.activeNodes ?? 0,
    tokensPerSecond: capacity?.tokensPerSecond ?? 0n,
    periodDays: days,
    committedTokensByDay: capacity?.committedTokensByDay ?? new Map(),
    addedTokensPerDay: spreadOverDays(BigInt(shortLots) * BigInt(terms.lotTokens), days.length),
  });
  return refusal && unprocessable(refusal.code, refusal.message);
}
