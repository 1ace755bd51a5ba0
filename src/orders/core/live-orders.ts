import type { LiveOrder } from './live-order.js';

/** What a product's commands may read of a book's live orders (forwards' daily mark and expiry). */
export interface ReadonlyLiveOrders {
  get(id: number): LiveOrder | undefined;
  values(): IterableIterator<LiveOrder>;
}

/**
 * A book's live orders by id, as its writer keeps them. An order a load read from PostgreSQL stays
 * in the form it was read (`keep`) until something first asks for it, and only then becomes its
 * `LiveOrder`: after a restart a million resting orders cost the engine's order and their row
 * each, not also a LiveOrder with its money and times, and an order is asked for only when a
 * batch fills, amends or cancels it (bench:recovery, docs/benchmarks.md). Nothing here knows the
 * stored form; `decode` does.
 */
export class LiveOrders implements ReadonlyLiveOrders {
  private readonly live = new Map<number, LiveOrder>();
  private readonly stored = new Map<number, unknown>();
  /** How many were kept: once fewer than an eighth of them are left, the rest are decoded. */
  private kept = 0;

  constructor(private decode: (stored: unknown) => LiveOrder = refuseStored) {}

  /**
   * An order read from storage (by a load), decoded only when it is first asked for. Whatever the
   * decoder reads from stays in memory while any kept order is left, so once fewer than an eighth
   * of them are, the rest are decoded at once and the decoder is let go: a book whose loaded
   * orders have mostly traded away does not hold the storage of all of them.
   */
  keep(id: number, stored: unknown): void {
    this.stored.set(id, stored);
    this.kept += 1;
  }

  get(id: number): LiveOrder | undefined {
    const order = this.live.get(id);
    if (order !== undefined) return order;
    const stored = this.stored.get(id);
    return stored === undefined ? undefined : this.decoded(id, stored);
  }

  set(id: number, order: LiveOrder): void {
    if (this.stored.delete(id)) this.releaseWhenFew();
    this.live.set(id, order);
  }

  delete(id: number): void {
    this.live.delete(id);
    if (this.stored.delete(id)) this.releaseWhenFew();
  }

  get size(): number {
    return this.live.size + this.stored.size;
  }

  /** Every order, each decoded first: for the rare walk over a whole book. */
  values(): IterableIterator<LiveOrder> {
    for (const [id, stored] of this.stored) this.decoded(id, stored);
    return this.live.values();
  }

  private decoded(id: number, stored: unknown): LiveOrder {
    const order = this.decode(stored);
    this.stored.delete(id);
    this.live.set(id, order);
    this.releaseWhenFew();
    return order;
  }

  private releaseWhenFew(): void {
    if (this.stored.size * 8 >= this.kept) return;
    const rest = [...this.stored];
    this.stored.clear();
    for (const [id, stored] of rest) this.live.set(id, this.decode(stored));
    this.decode = refuseStored;
    this.kept = 0;
  }
}

function refuseStored(): never {
  throw new Error('LiveOrders: an order was kept without a decoder');
}
