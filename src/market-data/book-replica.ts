import type { BookLevel } from './market-data.dto.js';

/**
 * What a stream client does with the book channel, as reference code (and what the end-to-end
 * tests use): start from a snapshot, apply each delta whose `previousSeq` is the last applied
 * `seq`, skip deltas the snapshot already contains, and report a gap, after which the client must
 * subscribe again for a new snapshot. Pure: no I/O.
 */
export type DeltaOutcome = 'applied' | 'stale' | 'gap';

export interface BookUpdate {
  readonly seq: number;
  readonly previousSeq: number;
  readonly bids: readonly BookLevel[];
  readonly asks: readonly BookLevel[];
}

export class BookReplica {
  /** The sequence of the last snapshot or delta applied. */
  sequence: number;
  private readonly bids = new Map<string, BookLevel>();
  private readonly asks = new Map<string, BookLevel>();

  constructor(snapshot: { readonly sequence: number; readonly bids: readonly BookLevel[]; readonly asks: readonly BookLevel[] }) {
    this.sequence = snapshot.sequence;
    for (const level of snapshot.bids) this.bids.set(level.price, level);
    for (const level of snapshot.asks) this.asks.set(level.price, level);
  }

  apply(update: BookUpdate): DeltaOutcome {
    if (update.seq <= this.sequence) return 'stale';
    if (update.previousSeq !== this.sequence) return 'gap';
    for (const [side, levels] of [[this.bids, update.bids], [this.asks, update.asks]] as const) {
      for (const level of levels) {
        if (level.quantity === 0) side.delete(level.price);
        else side.set(level.price, level);
      }
    }
    this.sequence = update.seq;
    return 'applied';
  }

  /** The book, best levels first, as the REST book returns it. */
  view(): { sequence: number; bids: BookLevel[]; asks: BookLevel[] } {
    return {
      sequence: this.sequence,
      bids: [...this.bids.values()].sort((a, b) => comparePrices(b.price, a.price)),
      asks: [...this.asks.values()].sort((a, b) => comparePrices(a.price, b.price)),
    };
  }
}

/**
 * Orders two prices of one instrument without parsing them: they have the same number of
 * decimals and no leading zeros, so the longer is larger, and equal lengths compare as text.
 */
export function comparePrices(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}
