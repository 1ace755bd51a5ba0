import type { DataSource } from 'typeorm';
import type { LedgerService } from '../ledger/ledger.service.js';
import type { InstrumentSpec, SpotTerms } from '../markets/instrument-terms.js';
import type { NodesService } from '../nodes/nodes.service.js';
import type { OrderAccounts } from './core/batch-money.js';
import { type BookCommand, clientOrderKey } from './core/book-commands.js';
import { type ProviderCapacity, SalesWindow } from './core/capacity.js';
import type { BatchFacts, BookState } from './core/plan-batch.js';
import type { ProductShell } from './products.js';
import { readStoredAnswers } from '../platform/idempotency/stored-answers.js';
import type { StoredAnswer } from './core/book-commands.js';
import { spendableAhead, type UncommittedBatch, withUncommitted } from './core/uncommitted-batch.js';
import type { AccountId } from '../ledger/core/index.js';

/** Order ids fetched from the sequence at a time. */
const ORDER_ID_BLOCK = 1_000;

export interface BookFactsSources {
  readonly dataSource: DataSource;
  readonly ledger: LedgerService;
  readonly nodes: NodesService;
  /** The model class's spot index on the book's grid, if there is one. */
  readonly indexPrice: () => Promise<number | undefined>;
}

/**
 * Reads what a batch needs before it is planned, without locks and side by side: accounts and
 * spendable cash (the ledger's), capacity (the nodes' registry), clientOrderIds already used and
 * fresh order ids (the orders' own tables). What only this book's writer changes is kept in
 * memory: participants' account ids (they never change), providers' sales within the delivery
 * window, and a block of order ids.
 */
export class BookFacts {
  private readonly sales = new Map<string, SalesWindow>();
  private freeOrderIds: number[] = [];
  private accounts = new Map<string, OrderAccounts>();

  constructor(
    private readonly symbol: string,
    private readonly sources: BookFactsSources,
  ) {}

  /** After a (re)load: forget the sales windows, and know the accounts of every resting order's owner (and the product's others). */
  async reset(owners: ReadonlySet<string>, others: readonly string[] = []): Promise<void> {
    this.sales.clear();
    this.accounts = await this.sources.ledger.accountsOfMany([...new Set([...owners, ...others])]);
  }

  /**
   * The facts of a batch. With `pending` (a planned batch still committing), reads may or may not
   * see it, so they are completed with what it commits: see core/uncommitted-batch.ts.
   */
  async read(state: BookState, spec: InstrumentSpec, product: ProductShell, commands: readonly BookCommand[], now: number, pending?: UncommittedBatch): Promise<BatchFacts> {
    const { rules } = product;
    const callers = [...new Set(commands.flatMap((c) => ('participantId' in c && c.participantId !== undefined ? [c.participantId] : [])))];
    const places = commands.filter((c) => c.kind === 'place');
    const needsIndex = state.book.referencePriceTicks === undefined && places.some((c) => c.type === 'market');
    // Account ids are cached after a participant's first order; everything else is read side by side.
    for (const [id, a] of await this.sources.ledger.accountsOfMany(callers)) this.accounts.set(id, a);
    const [feesAccount, spendable, knownClientOrderIds, storedAnswers, orderIds, capacity, indexPriceTicks, productFacts] = await Promise.all([
      this.sources.ledger.feeAccount(this.symbol), // each book its own shard, mostly: see LedgerService.feeAccount
      this.spendable(callers.map((id) => this.accounts.get(id)!.available), pending),
      this.knownClientOrderIds(places).then((known) => (pending ? withUncommitted(known, pending.clientOrderIds) : known)),
      this.storedAnswers(places).then((stored) => (pending ? withUncommitted(stored, pending.answers) : stored)),
      this.allocateOrderIds(places.length),
      rules.sellsNeedCapacity ? this.capacities(spec as SpotTerms, this.addingSellers(state, commands), now, pending) : new Map<string, ProviderCapacity>(),
      needsIndex ? this.sources.indexPrice() : undefined,
      product.facts(state, spec, commands, now),
    ]);
    return {
      now,
      terms: spec,
      feesAccount,
      accounts: this.accounts,
      spendable: productFacts?.spendable ? new Map([...productFacts.spendable, ...spendable]) : spendable,
      knownClientOrderIds,
      storedAnswers,
      orderIds,
      capacity,
      ...(indexPriceTicks !== undefined ? { indexPriceTicks } : {}),
      ...(productFacts !== undefined ? { product: productFacts } : {}),
    };
  }

  /**
   * A batch was planned: its fills count against their sellers' capacity from now on. (If it then
   * fails, the book is reloaded, which forgets the sales windows.)
   */
  planned(fills: ReadonlyArray<{ sellerId: string; lots: number }>, now: number): void {
    for (const fill of fills) this.sales.get(fill.sellerId)?.add(now, fill.lots);
  }

  /**
   * What the callers' available accounts may spend, read with the book's sequence in one snapshot:
   * with a batch still committing, that tells whether the read saw it.
   */
  private async spendable(accounts: readonly AccountId[], pending: UncommittedBatch | undefined): Promise<Map<AccountId, bigint>> {
    if (accounts.length === 0) return new Map();
    const rows: Array<{ id: string; spendable: string; seq: number | null }> = await this.sources.dataSource.query(
      `SELECT id::text, (credits_posted - debits_posted - debits_pending)::text AS spendable,
              (SELECT last_seq FROM instrument_books WHERE instrument = $2)::float8 AS seq
         FROM accounts WHERE id = ANY($1::bigint[])`,
      [accounts.map(String), this.symbol],
    );
    const read = new Map(rows.map((r) => [BigInt(r.id), BigInt(r.spendable)]));
    return pending ? spendableAhead(read, rows[0]?.seq ?? undefined, pending) : read;
  }

  /** Who may add sell quantity in this batch: sellers placing orders, and owners amending sells. */
  private addingSellers(state: BookState, commands: readonly BookCommand[]): string[] {
    const sellers = commands.flatMap((c) =>
      (c.kind === 'place' && c.side === 'sell') || (c.kind === 'amend' && state.orders.get(c.orderId)?.side === 'sell') ? [c.participantId] : [],
    );
    return [...new Set(sellers)];
  }

  /**
   * Capacity of every provider selling in the batch (one query), and what each sold within the
   * delivery window: read from `fills` the first time a provider sells after the book was loaded,
   * then added to as batches are planned. A batch still committing may be missing from that read:
   * its fills are added by id if so.
   */
  private async capacities(spec: SpotTerms, providers: string[], now: number, pending?: UncommittedBatch): Promise<Map<string, ProviderCapacity>> {
    const capacity = new Map<string, ProviderCapacity>();
    if (providers.length === 0) return capacity;
    const unknown = providers.filter((p) => !this.sales.has(p));
    const [nodes, sold]: [Awaited<ReturnType<NodesService['enabledCapacities']>>, Array<{ id: string; seller_id: string; at: Date; lots: string }>] = await Promise.all([
      this.sources.nodes.enabledCapacities(providers, spec.modelClassId),
      unknown.length === 0
        ? []
        : this.sources.dataSource.query(
            `SELECT id, seller_id, created_at AS at, quantity_lots::text AS lots FROM fills
              WHERE seller_id = ANY($1::uuid[]) AND instrument = $2 AND created_at > now() - make_interval(secs => $3)
              ORDER BY created_at`,
            [unknown, this.symbol, spec.spotWindowSeconds],
          ),
    ]);
    for (const provider of unknown) this.sales.set(provider, new SalesWindow());
    for (const r of sold) this.sales.get(r.seller_id)!.add(r.at.getTime(), Number(r.lots));
    const seen = new Set(sold.map((r) => r.id));
    const newlyKnown = new Set(unknown);
    for (const f of pending?.fills ?? []) if (newlyKnown.has(f.sellerId) && !seen.has(f.id)) this.sales.get(f.sellerId)!.add(f.createdAt.getTime(), f.lots);
    const windowStart = now - spec.spotWindowSeconds * 1000;
    for (const [provider, nodeCapacity] of nodes) {
      capacity.set(provider, { ...nodeCapacity, soldBefore: this.sales.get(provider)!.since(windowStart) });
    }
    return capacity;
  }

  private async knownClientOrderIds(places: ReadonlyArray<{ participantId: string; clientOrderId?: string }>): Promise<Map<string, bigint>> {
    const keyed = places.filter((p) => p.clientOrderId !== undefined);
    if (keyed.length === 0) return new Map();
    const rows: Array<{ id: string; participant_id: string; client_order_id: string }> = await this.sources.dataSource.query(
      `SELECT o.id, o.participant_id, o.client_order_id FROM orders o
         JOIN unnest($1::uuid[], $2::text[]) AS k(participant_id, client_order_id)
           ON o.participant_id = k.participant_id AND o.client_order_id = k.client_order_id`,
      [keyed.map((p) => p.participantId), keyed.map((p) => p.clientOrderId)],
    );
    return new Map(rows.map((r) => [clientOrderKey(r.participant_id, r.client_order_id), BigInt(r.id)]));
  }

  /** Answers already stored under the batch's Idempotency-Keys: one indexed lookup, only for a batch that has keys. */
  private async storedAnswers(places: ReadonlyArray<{ participantId: string; idempotency?: { key: string } }>): Promise<Map<string, StoredAnswer>> {
    const keys = places.flatMap((p) => (p.idempotency ? [{ participantId: p.participantId, key: p.idempotency.key }] : []));
    const stored = await readStoredAnswers(this.sources.dataSource, keys);
    return new Map(stored.map((a) => [clientOrderKey(a.participantId, a.key), a]));
  }

  /**
   * Fresh order ids, ascending. They come from the shared sequence in blocks of at least
   * ORDER_ID_BLOCK, so most batches need no round trip for them; ids of a failed batch or of a
   * process that stopped are simply never used (ids need only be unique and rise per book).
   */
  private async allocateOrderIds(count: number): Promise<number[]> {
    if (count > this.freeOrderIds.length) {
      const rows: Array<{ id: string }> = await this.sources.dataSource.query(`SELECT nextval('order_ids')::text AS id FROM generate_series(1, $1)`, [
        Math.max(count, ORDER_ID_BLOCK),
      ]);
      this.freeOrderIds = rows.map((r) => Number(r.id)).sort((a, b) => a - b);
    }
    return this.freeOrderIds.splice(0, count);
  }
}
