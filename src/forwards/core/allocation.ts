import { spreadOverDays } from './capacity.js';

/** A position at expiry: its size (positive, whichever side) and the trade that opened it. */
export interface ExpiryPosition {
  readonly participantId: string;
  readonly lots: number;
  readonly openedSeq: number;
}

/** Lots one short delivers to one long over the period. */
export interface Allocation {
  readonly shortId: string;
  readonly longId: string;
  readonly lots: number;
}

/** Oldest first (CME assigns by oldest trade date); ties by participant id. */
const byAge = (a: ExpiryPosition, b: ExpiryPosition) =>
  a.openedSeq - b.openedSeq || (a.participantId < b.participantId ? -1 : a.participantId > b.participantId ? 1 : 0);

/**
 * `total` lots shared pro rata to `sizes` (given oldest first, summing to `whole` ≥ total): each
 * share rounded down, then one lot each to the oldest with room until none is left. Exact: the
 * shares add up to `total` and none exceeds its size.
 */
function proRata(total: number, sizes: readonly number[], whole: number): number[] {
  if (total === 0) return sizes.map(() => 0);
  const shares = sizes.map((size) => Number((BigInt(total) * BigInt(size)) / BigInt(whole)));
  let left = total - shares.reduce((sum, s) => sum + s, 0);
  for (let i = 0; left > 0 && i < sizes.length; i++) {
    if (shares[i] < sizes[i]) {
      shares[i]++;
      left--;
    }
  }
  return shares;
}

/**
 * Pairs shorts with longs at expiry (market-rules §6). When the sides match, every long receives
 * and every short gives exactly its lots. When longs were cut for not funding their notional,
 * only the longs' total is delivered: each short gives its pro rata share of it (remainder from
 * the oldest) and the rest of it is unallocated. Each short, oldest first, is then spread over
 * the longs pro rata to what they still need, remainder to the oldest; the last short meets
 * exactly what is left, so the pairs add up on both sides. One entry per pair with lots > 0.
 */
export function allocateExpiry(longs: ReadonlyArray<ExpiryPosition>, shorts: ReadonlyArray<ExpiryPosition>): Allocation[] {
  for (const p of [...longs, ...shorts]) {
    if (!Number.isSafeInteger(p.lots) || p.lots <= 0) throw new RangeError(`${p.participantId}: an expiring position has positive whole lots`);
  }
  const longsByAge = [...longs].sort(byAge);
  const shortsByAge = [...shorts].sort(byAge);
  const longTotal = longsByAge.reduce((sum, p) => sum + p.lots, 0);
  const shortTotal = shortsByAge.reduce((sum, p) => sum + p.lots, 0);
  const matched = Math.min(longTotal, shortTotal);
  if (matched === 0) return [];
  const gives = proRata(matched, shortsByAge.map((p) => p.lots), shortTotal);
  const needs = proRata(matched, longsByAge.map((p) => p.lots), longTotal);
  let remaining = matched;
  const allocations: Allocation[] = [];
  shortsByAge.forEach((short, i) => {
    const split = proRata(gives[i], needs, remaining);
    split.forEach((lots, j) => {
      if (lots === 0) return;
      allocations.push({ shortId: short.participantId, longId: longsByAge[j].participantId, lots });
      needs[j] -= lots;
    });
    remaining -= gives[i];
  });
  return allocations;
}

/**
 * A period's quantity as one delivery per UTC day (market-rules §6): `floor(lots / days)` each,
 * the remainder one lot each on the first days, so the days add up to the lots exactly.
 */
export function dailySchedule(lots: number, days: number): number[] {
  if (!Number.isSafeInteger(lots) || lots < 0) throw new RangeError('lots must be a non-negative integer');
  return spreadOverDays(BigInt(lots), days).map(Number);
}
