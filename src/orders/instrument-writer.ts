import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DomainError, invalid, notFound, unprocessable } from '../common/domain-error.js';
import type { AccountId } from '../ledger/core/index.js';
import { postTransfersSql } from '../ledger/ledger.repository.js';
import { arrayLiteral, literal } from '../platform/database/sql-literals.js';
import { runScript } from '../platform/database/sql-script.js';
import type { LedgerService, ParticipantAccounts } from '../ledger/ledger.service.js';
import { type InstrumentSpec, tradingState } from '../markets/instrument-terms.js';
import { lotsToTokens } from '../markets/price.js';
import type { NodesService } from '../nodes/nodes.service.js';
import {
  type BookEvent,
  type BookSnapshot,
  type Command,
  FastOrderBook,
  type RestingOrder,
  SNAPSHOT_VERSION,
  type StpMode,
  type TimeInForce,
} from '../matching/index.js';
import { createDeliveriesSql } from '../deliveries/delivery-sql.js';
import { BatchMoney, type FillRecord } from './batch-money.js';
import { NO_FILLS } from './core/order-money.js';
import { type LiveOrder, openLots } from './live-order.js';
import { rejectionToError } from './order-errors.js';

/** The advisory lock key every batch of a book holds shared while it commits, for a symbol given as SQL. */
export const bookWriteLock = (symbolSql: string) => `hashtext('tokex:book-write:' || ${symbolSql})`;
/** The same key with the symbol as parameter $1. */
export const BOOK_WRITE_LOCK = bookWriteLock('$1');

/** A provider's performance bond on a spot sell (market-rules §4). */
const BOND_BPS = 1000;
/** Commands taken into one transaction at most (group commit). */
const MAX_BATCH = 500;
/** Commands waiting at most; beyond, new ones are refused with 503 and a retry hint. */
export const MAX_QUEUE = 10_000;

export type WriterRequest =
  | {
      readonly kind: 'place';
      readonly participantId: string;
      readonly side: 'buy' | 'sell';
      readonly type: 'limit' | 'market';
      readonly timeInForce: TimeInForce;
      readonly priceTicks?: number;
      readonly lots: number;
      readonly expiresAt?: number;
      readonly postOnly: boolean;
      readonly stp: StpMode;
      readonly clientOrderId?: string;
    }
  | { readonly kind: 'amend'; readonly participantId: string; readonly orderId: number; readonly priceTicks?: number; readonly lots?: number }
  | { readonly kind: 'cancel'; readonly participantId: string; readonly orderId: number }
  | { readonly kind: 'cancel_all'; readonly participantId: string }
  | { readonly kind: 'expire' };

export type { FillRecord } from './batch-money.js';

export interface WriterResult {
  /** The order the request was about (for cancel_all: none). */
  readonly order?: LiveOrder;
  /** Orders it closed (cancel_all). */
  readonly closed: LiveOrder[];
  readonly fills: FillRecord[];
  /** The request repeated a clientOrderId: the first order's id, to be read back. */
  readonly duplicateOf?: bigint;
}

type PlaceRequest = Extract<WriterRequest, { kind: 'place' }>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** What one group commit carries from command to command. */
interface BatchContext {
  readonly spec: InstrumentSpec;
  /** The batch's clock: every command of the batch happens at this instant. */
  readonly now: number;
  readonly money: BatchMoney;
  /** Fills of the whole batch, in order. */
  readonly fills: FillRecord[];
  /** clientOrderIds already committed (per participant), and those accepted earlier in this batch. */
  readonly knownClientIds: Map<string, bigint>;
  readonly batchClientIds: Map<string, bigint>;
  readonly orderIds: Iterator<number>;
  /** Enabled node capacity of the batch's selling providers, and lots each sold within the delivery window before it. */
  readonly capacity: Map<string, { activeNodes: number; tokensPerSecond: bigint; soldBefore: number }>;
  /** Open sell lots per provider at the batch's first sell, plus sells accepted since. */
  openSellLots?: Map<string, number>;
  ensureAccounts(participantId: string): Promise<void>;
}

interface QueueItem {
  readonly request: WriterRequest;
  readonly resolve: (result: WriterResult) => void;
  readonly reject: (error: unknown) => void;
}

/** One aggregated price level after a batch; quantity 0 means the level is gone. */
export interface LevelChange {
  readonly side: 'buy' | 'sell';
  readonly priceTicks: number;
  readonly quantity: number;
  readonly orderCount: number;
}

/**
 * What a committed batch changed, for market data: published only after the commit, in `seq`
 * order, so a subscriber that applies level changes to a snapshot of sequence N sees every later
 * sequence exactly once (a gap means it missed something and must take a new snapshot).
 */
export interface CommittedBatch {
  readonly instrument: string;
  /** The book's sequence after the batch. */
  readonly seq: number;
  /** The book's sequence before the batch. */
  readonly previousSeq: number;
  readonly fills: readonly FillRecord[];
  readonly levels: readonly LevelChange[];
  /** Orders the batch created or changed (their owners' private channels). */
  readonly orders: readonly LiveOrder[];
  readonly committedAt: Date;
}

export interface BookView {
  readonly seq: number;
  readonly bids: ReadonlyArray<{ priceTicks: number; quantity: number; orderCount: number }>;
  readonly asks: ReadonlyArray<{ priceTicks: number; quantity: number; orderCount: number }>;
  readonly referencePriceTicks: number | undefined;
}

export interface WriterDependencies {
  readonly dataSource: DataSource;
  readonly ledger: LedgerService;
  readonly nodes: NodesService;
  /** The instrument as PostgreSQL has it now (404 if it is gone). */
  readonly instrument: () => Promise<InstrumentSpec>;
  /**
   * The model class's spot index on this book's grid, if there is one: the collar reference of a
   * market order on a book that has not traded yet (market-rules §3: "last trade or index").
   */
  readonly indexPrice?: () => Promise<number | undefined>;
  /** Called after every committed batch that changed something. */
  readonly published?: (batch: CommittedBatch) => void;
  /** Measures every group commit: its size, and how long preparing and committing took. */
  readonly measured?: (commands: number, prepareSeconds: number, commitSeconds: number) => void;
}

/**
 * The one writer of an instrument's book. Requests queue here; a loop takes everything queued (up
 * to MAX_BATCH), runs it through the matching engine and the pre-trade checks in memory, and
 * commits the result in one PostgreSQL transaction (group commit): orders, fills, book position
 * and every ledger transfer. Only then are the callers answered. While a batch commits, new
 * requests queue up, so batches grow with load and commits stay few.
 *
 * Funds are checked optimistically against balances read before the batch; the accounts are then
 * locked (all at once, in id order) and the ledger core re-checks every transfer. If a balance
 * moved meanwhile (a withdrawal), or the commit fails, the book is rebuilt from PostgreSQL and
 * the batch runs again: memory never gets ahead of what is durable.
 */
export class InstrumentWriter {
  private readonly logger: Logger;
  private readonly queue: QueueItem[] = [];
  private book!: FastOrderBook;
  private readonly orders = new Map<number, LiveOrder>();
  private running = false;
  private latestSpec?: InstrumentSpec;
  /** Set when a batch failed and the book could not yet be rebuilt from PostgreSQL. */
  private needsLoad = false;
  /** Providers' sales within the delivery window, for the capacity check (filled lazily). */
  private readonly sales = new Map<string, SalesWindow>();
  private specStale = false;
  /** Order ids taken from the sequence and not yet used (see allocateOrderIds). */
  private freeOrderIds: number[] = [];
  private stopped = false;
  private expiryTimer?: NodeJS.Timeout;

  constructor(
    readonly symbol: string,
    private readonly deps: WriterDependencies,
  ) {
    this.logger = new Logger(`InstrumentWriter:${symbol}`);
  }

  get depth(): number {
    return this.queue.length;
  }

  /** The aggregated book as of the last committed batch (L2), best levels first. */
  view(maxLevels?: number): BookView {
    return {
      seq: this.book.lastSequence,
      bids: this.book.depth('buy', maxLevels),
      asks: this.book.depth('sell', maxLevels),
      referencePriceTicks: this.book.referencePriceTicks,
    };
  }

  /** Rebuilds the book from PostgreSQL: the open orders in price-time priority, and the book position. */
  async load(): Promise<void> {
    const spec = await this.deps.instrument();
    this.latestSpec = spec;
    const manager = this.deps.dataSource.manager;
    await manager.query(`INSERT INTO instrument_books (instrument) VALUES ($1) ON CONFLICT DO NOTHING`, [this.symbol]);
    const [position] = await manager.query(`SELECT last_seq, reference_price_ticks FROM instrument_books WHERE instrument = $1`, [this.symbol]);
    const rows: OrderRecord[] = await manager.query(
      `SELECT ${ORDER_COLUMNS} FROM orders WHERE instrument = $1 AND status = 'open'
        ORDER BY side, CASE WHEN side = 'buy' THEN -price_ticks ELSE price_ticks END, priority_seq, id`,
      [this.symbol],
    );
    const [{ max }] = await manager.query(`SELECT coalesce(max(id), 0)::text AS max FROM orders WHERE instrument = $1`, [this.symbol]);
    this.orders.clear();
    this.sales.clear();
    const resting = (side: 'buy' | 'sell'): RestingOrder[] =>
      rows
        .filter((r) => r.side === side)
        .map((r) => {
          const order = toLiveOrder(r);
          this.orders.set(order.id, order);
          return {
            orderId: order.id,
            owner: order.participantId,
            side: order.side,
            priceTicks: order.priceTicks,
            quantity: order.quantity,
            remaining: openLots(order),
            timeInForce: order.timeInForce as 'GTC' | 'GTD',
            ...(order.expiresAt !== null ? { expiresAt: order.expiresAt } : {}),
            postOnly: order.postOnly,
            stp: order.stp,
          };
        });
    const snapshot: BookSnapshot = {
      version: SNAPSHOT_VERSION,
      config: { collarBps: spec.collarBps },
      lastSequence: Number(position.last_seq),
      lastOrderId: Number(max),
      ...(position.reference_price_ticks !== null ? { referencePriceTicks: Number(position.reference_price_ticks) } : {}),
      bids: resting('buy'),
      asks: resting('sell'),
    };
    this.book = FastOrderBook.restore(snapshot);
  }

  start(): void {
    this.stopped = false;
    // GTD orders expire on time: ask the engine every 250 ms whether any is due.
    this.expiryTimer = setInterval(() => {
      const now = Date.now();
      if ([...this.orders.values()].some((o) => o.expiresAt !== null && o.expiresAt <= now && o.status === 'open')) {
        void this.submit({ kind: 'expire' }).catch(() => undefined);
      }
    }, 250);
    this.expiryTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.expiryTimer);
    while (this.running) await new Promise((resolve) => setTimeout(resolve, 5));
    for (const item of this.queue.splice(0)) item.reject(unavailable('the exchange is shutting down; retry'));
  }

  submit(request: WriterRequest): Promise<WriterResult> {
    if (this.stopped) return Promise.reject(unavailable('the exchange is shutting down; retry'));
    if (this.queue.length >= MAX_QUEUE) {
      return Promise.reject(new DomainError('QUEUE_FULL', `too many orders waiting for ${this.symbol}; retry shortly`, 'unavailable', { retryAfterSeconds: 1 }));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  /** Commits batch after batch until the queue is empty. */
  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        await this.commitBatch(batch);
      }
    } finally {
      this.running = false;
    }
  }

  private async commitBatch(batch: QueueItem[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await this.runBatch(batch);
        batch.forEach((item, i) => (outcome[i] instanceof Error ? item.reject(outcome[i]) : item.resolve(outcome[i] as WriterResult)));
        return;
      } catch (error) {
        // Memory may be ahead of PostgreSQL now: rebuild it from what is durable, then try again.
        // Until a rebuild succeeds, no batch runs on memory that may hold uncommitted effects.
        this.needsLoad = true;
        await this.load().then(
          () => (this.needsLoad = false),
          (e) => this.logger.error({ err: e }, 'could not reload the book; the next batch tries again'),
        );
        const retryable = error instanceof BalanceMovedError || isSerializationProblem(error);
        if (!retryable || attempt === 3) {
          if (!retryable) this.logger.error({ err: error }, 'order batch failed');
          for (const item of batch) item.reject(retryable ? unavailable('the order book is busy; retry') : error);
          return;
        }
      }
    }
  }

  /**
   * The instrument as last read: at load, and again after every halt or resume (announced in
   * this process directly, and from other processes by NOTIFY). Its grid and fees never change
   * after listing, so callers may convert prices with it.
   */
  get spec(): InstrumentSpec {
    return this.latestSpec!;
  }

  /** The instrument was halted or resumed: read it again before the next batch. */
  instrumentChanged(): void {
    this.specStale = true;
  }

  /** One group commit. Returns, per request, its result or the error that refused it. */
  private async runBatch(batch: QueueItem[]): Promise<Array<WriterResult | Error>> {
    const started = performance.now();
    if (this.needsLoad) {
      await this.load().catch(() => {
        throw unavailable('the order book is being rebuilt; retry');
      });
      this.needsLoad = false;
    }
    if (this.specStale) {
      this.specStale = false;
      this.latestSpec = await this.deps.instrument();
    }
    const spec = this.latestSpec!;
    const { ledger } = this.deps;
    const requests = batch.map((item) => item.request);

    // Before the transaction, without locks: repeated clientOrderIds, fresh order ids, and the
    // accounts and spendable cash of everyone named in the batch.
    const places = requests.filter((r): r is PlaceRequest => r.kind === 'place');
    const now = Date.now();
    const participants = [...new Set(requests.flatMap((r) => ('participantId' in r ? [r.participantId] : [])))];
    const accounts = new Map<string, ParticipantAccounts>(
      await Promise.all(participants.map(async (id) => [id, await ledger.accountsOf(id)] as const)),
    );
    // Independent reads, side by side: each is a round trip, and the writer waits for them all.
    const [fees, spendable, knownClientIds, orderIds, capacity] = await Promise.all([
      ledger.systemAccount('fees'),
      this.spendable([...accounts.values()].map((a) => a.available)),
      this.knownClientOrderIds(places),
      this.allocateOrderIds(places.length),
      this.capacities(spec, [...new Set(this.sellersOf(requests))], now),
    ]);
    const ctx: BatchContext = {
      spec,
      now,
      money: new BatchMoney(
        { grid: spec, makerFeeBps: spec.makerFeeBps, takerFeeBps: spec.takerFeeBps, bondBps: BOND_BPS },
        fees,
        accounts,
        spendable,
        spec.kind === 'spot',
      ),
      fills: [],
      knownClientIds,
      batchClientIds: new Map(),
      orderIds: orderIds.values(),
      capacity,
      ensureAccounts: async (participantId) => {
        if (!accounts.has(participantId)) accounts.set(participantId, await ledger.accountsOf(participantId));
      },
    };
    const before = this.deps.published ? { seq: this.book.lastSequence, bids: this.book.depth('buy'), asks: this.book.depth('sell') } : undefined;

    const results: Array<WriterResult | Error> = [];
    for (const request of requests) {
      try {
        results.push(await this.execute(ctx, request));
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        results.push(error);
      }
    }

    // One transaction: lock every account touched (once, in id order), let the ledger core
    // re-check and apply every transfer, and write orders, fills and the book position.
    const prepared = performance.now();
    const { transfers, changed } = ctx.money;
    try {
      await runScript(this.deps.dataSource, [
        'BEGIN',
        `SELECT pg_advisory_xact_lock_shared(${bookWriteLock(literal(this.symbol))})`,
        ...postTransfersSql(transfers),
        this.writeBookSql([...changed.values()], ctx.fills),
        ...(spec.kind === 'spot' ? [createDeliveriesSql(spec, ctx.fills)].filter((sql) => sql !== undefined) : []),
        'COMMIT',
      ].join(';\n'));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === CHECK_VIOLATION) throw new BalanceMovedError(String((error as { constraint?: string }).constraint));
      throw error;
    }
    this.deps.measured?.(batch.length, (prepared - started) / 1000, (performance.now() - prepared) / 1000);
    for (const fill of ctx.fills) this.sales.get(fill.sellerId)?.add(now, fill.lots);
    for (const order of changed.values()) if (order.status !== 'open') this.orders.delete(order.id);
    if (before && this.book.lastSequence !== before.seq) {
      this.deps.published!({
        instrument: this.symbol,
        seq: this.book.lastSequence,
        previousSeq: before.seq,
        fills: ctx.fills,
        levels: [...levelChanges('buy', before.bids, this.book.depth('buy')), ...levelChanges('sell', before.asks, this.book.depth('sell'))],
        orders: [...changed.values()].map((o) => ({ ...o })),
        committedAt: new Date(),
      });
    }
    return results;
  }

  private async execute(ctx: BatchContext, request: WriterRequest): Promise<WriterResult> {
    switch (request.kind) {
      case 'place':
        return this.place(ctx, request);
      case 'amend':
        return this.amend(ctx, request);
      case 'cancel': {
        const order = this.openOrderOf(request.participantId, request.orderId);
        await this.run(ctx, { type: 'cancel', orderId: order.id, owner: order.participantId });
        return { order, closed: [], fills: [] };
      }
      case 'cancel_all':
      case 'expire': {
        const events: BookEvent[] = [];
        await this.run(ctx, request.kind === 'cancel_all' ? { type: 'cancel_all', owner: request.participantId } : { type: 'expire' }, {}, events);
        const closed = events.flatMap((e) => (e.type === 'cancelled' || e.type === 'expired' ? [this.orders.get(e.orderId)!] : []));
        return { closed, fills: [] };
      }
    }
  }

  private async place(ctx: BatchContext, request: PlaceRequest): Promise<WriterResult> {
    const orderId = ctx.orderIds.next().value!;
    const clientKey = request.clientOrderId === undefined ? undefined : `${request.participantId}\u0000${request.clientOrderId}`;
    const first = clientKey === undefined ? undefined : (ctx.knownClientIds.get(clientKey) ?? ctx.batchClientIds.get(clientKey));
    if (first !== undefined) return { closed: [], fills: [], duplicateOf: first };

    this.refuseUnlessTrading(ctx);
    if (request.expiresAt !== undefined && request.expiresAt <= ctx.now) {
      throw invalid('VALIDATION_FAILED', 'expiresAt must be in the future', { fields: ['expiresAt'] });
    }
    // A market order is held at its collar limit: the worst price it could fill at.
    let limit = request.type === 'limit' ? request.priceTicks! : this.book.collarLimit(request.side);
    if (limit === undefined && this.deps.indexPrice) {
      // A book that has never traded takes the spot index as its reference (kept from then on).
      const index = await this.deps.indexPrice();
      if (index !== undefined && index > 0) {
        await this.run(ctx, { type: 'set_reference_price', priceTicks: index });
        limit = this.book.collarLimit(request.side);
      }
    }
    if (limit === undefined) throw unprocessable('NO_REFERENCE_PRICE', 'a market order needs a last trade or index price to set its price collar');
    if (request.side === 'sell') this.checkCapacity(ctx, request.participantId, request.lots);

    const order: LiveOrder = {
      id: orderId,
      participantId: request.participantId,
      instrument: this.symbol,
      clientOrderId: request.clientOrderId ?? null,
      side: request.side,
      type: request.type,
      timeInForce: request.timeInForce,
      postOnly: request.postOnly,
      stp: request.stp,
      expiresAt: request.expiresAt ?? null,
      priceTicks: limit,
      quantity: request.lots,
      filled: 0,
      status: 'open',
      closeReason: null,
      hold: 0n,
      fees: NO_FILLS,
      feesPaid: 0n,
      acceptedSeq: 0,
      prioritySeq: 0,
      createdAt: new Date(ctx.now),
    };
    const needed = ctx.money.initialHold(order);
    if (!ctx.money.reserve(request.participantId, needed)) {
      throw unprocessable(
        'INSUFFICIENT_FUNDS',
        request.side === 'buy' ? 'available cash does not cover the order and its fee' : 'available cash does not cover the performance bond',
      );
    }
    const fills = await this.run(
      ctx,
      {
        type: 'place',
        orderId,
        owner: request.participantId,
        side: request.side,
        orderType: request.type,
        ...(request.type === 'limit' ? { priceTicks: request.priceTicks } : {}),
        quantity: request.lots,
        timeInForce: request.timeInForce,
        ...(request.expiresAt !== undefined ? { expiresAt: request.expiresAt } : {}),
        postOnly: request.postOnly,
        stp: request.stp,
      },
      {
        // Accepted: the order goes live and takes its hold in full before its fills use it.
        accepted: (seq) => {
          order.acceptedSeq = order.prioritySeq = seq;
          this.orders.set(orderId, order);
          ctx.money.adjustHold(order, 'hold', needed);
          if (clientKey !== undefined) ctx.batchClientIds.set(clientKey, BigInt(orderId));
          if (order.side === 'sell' && ctx.openSellLots) ctx.openSellLots.set(order.participantId, (ctx.openSellLots.get(order.participantId) ?? 0) + order.quantity);
        },
        rejected: () => ctx.money.unreserve(request.participantId, needed),
      },
    );
    return { order, closed: [], fills };
  }

  private async amend(ctx: BatchContext, request: Extract<WriterRequest, { kind: 'amend' }>): Promise<WriterResult> {
    const order = this.openOrderOf(request.participantId, request.orderId);
    const newQuantity = request.lots ?? order.quantity;
    const reducesOnly = request.priceTicks === undefined && newQuantity < order.quantity;
    // While halted or closed, an order may only shrink: a new price or more quantity could trade.
    if (!reducesOnly) this.refuseUnlessTrading(ctx, ': orders may only be reduced or cancelled');
    const added = newQuantity - order.quantity;
    if (order.side === 'sell' && added > 0) this.checkCapacity(ctx, order.participantId, added);
    // Reserve what the amended order could need beyond its hold before the engine sees it.
    const amended = { ...order, priceTicks: request.priceTicks ?? order.priceTicks, quantity: newQuantity };
    const needed =
      order.side === 'buy'
        ? ctx.money.buyHold(amended)
        : order.hold - ctx.money.openBond(order) + (amended.quantity > amended.filled ? ctx.money.openBond(amended) : 0n);
    const more = needed > order.hold ? needed - order.hold : 0n;
    if (!ctx.money.reserve(order.participantId, more)) throw unprocessable('INSUFFICIENT_FUNDS', 'available cash does not cover the amended order');
    const fills = await this.run(
      ctx,
      {
        type: 'amend',
        orderId: order.id,
        owner: order.participantId,
        ...(request.priceTicks !== undefined ? { priceTicks: request.priceTicks } : {}),
        ...(request.lots !== undefined ? { quantity: request.lots } : {}),
      },
      { rejected: () => ctx.money.unreserve(order.participantId, more) },
    );
    if (order.side === 'sell' && added > 0 && ctx.openSellLots) {
      ctx.openSellLots.set(order.participantId, (ctx.openSellLots.get(order.participantId) ?? 0) + added);
    }
    return { order, closed: [], fills };
  }

  /** Refuses what could trade while the instrument is halted, or a forward past its last trade. */
  private refuseUnlessTrading(ctx: BatchContext, detail = ''): void {
    const state = tradingState(ctx.spec, new Date(ctx.now));
    if (state === 'halted') throw unprocessable('INSTRUMENT_HALTED', `${this.symbol} is halted${detail}`);
    if (state === 'closed') throw unprocessable('INSTRUMENT_CLOSED', `${this.symbol} is closed for trading${detail}`);
  }

  private openOrderOf(participantId: string, orderId: number): LiveOrder {
    const order = this.orders.get(orderId);
    if (!order || order.participantId !== participantId || order.status !== 'open') throw notFound('ORDER_NOT_FOUND', 'no open order with that id');
    return order;
  }

  /**
   * Runs one command through the engine (next sequence, the batch's clock) and applies its events
   * to the live orders and the batch's money. A rejection becomes the client's error. Returns the
   * fills the command made; `events` receives a copy of its events (the engine reuses its own).
   */
  private async run(
    ctx: BatchContext,
    command: DistributiveOmit<Command, 'seq' | 'timestamp'>,
    hooks: { accepted?: (seq: number) => void; rejected?: () => void } = {},
    events: BookEvent[] = [],
  ): Promise<FillRecord[]> {
    const seq = this.book.lastSequence + 1;
    events.push(...this.book.execute({ ...command, seq, timestamp: ctx.now } as Command).map((e) => ({ ...e })));
    const rejection = events.find((e) => e.type === 'rejected');
    if (rejection?.type === 'rejected') {
      hooks.rejected?.();
      throw rejectionToError(rejection.code);
    }
    // Load the accounts of every order the events touch (makers may be anyone).
    for (const e of events) {
      const ids = e.type === 'trade' ? [e.makerOrderId, e.takerOrderId] : 'orderId' in e && e.orderId !== undefined ? [e.orderId] : [];
      for (const id of ids) {
        const owner = this.orders.get(id)?.participantId ?? (e.type === 'accepted' ? e.owner : undefined);
        if (owner !== undefined) await ctx.ensureAccounts(owner);
      }
    }
    const fills: FillRecord[] = [];
    for (const event of events) {
      switch (event.type) {
        case 'accepted':
          hooks.accepted?.(seq);
          break;
        case 'trade': {
          const fill = ctx.money.trade(
            `${this.symbol}:${seq}:${fills.length}`,
            seq,
            this.orders.get(event.makerOrderId)!,
            this.orders.get(event.takerOrderId)!,
            event.priceTicks,
            event.quantity,
            new Date(ctx.now),
          );
          fills.push(fill);
          ctx.fills.push(fill);
          break;
        }
        case 'cancelled':
        case 'expired': {
          const order = this.orders.get(event.orderId)!;
          ctx.money.rehold(order, `close:${seq}`, () => {
            order.status = event.type;
            order.closeReason = event.type === 'expired' ? 'expired' : event.reason;
          });
          break;
        }
        case 'amended': {
          const order = this.orders.get(event.orderId)!;
          ctx.money.rehold(order, `amend:${seq}`, () => {
            order.priceTicks = event.priceTicks;
            order.quantity = event.quantity;
            if (!event.priorityKept) order.prioritySeq = seq;
          });
          break;
        }
      }
    }
    return fills;
  }

  /**
   * Refuses a spot sell beyond what the provider's enabled nodes can serve in a delivery window:
   * its open sells of this book, plus what it sold within the window (undelivered until settlement
   * says otherwise; this batch's fills included), plus the new order.
   */
  private checkCapacity(ctx: BatchContext, providerId: string, lots: number): void {
    const { spec } = ctx;
    if (spec.kind !== 'spot') return;
    const known = ctx.capacity.get(providerId) ?? { activeNodes: 0, tokensPerSecond: 0n, soldBefore: 0 };
    if (known.activeNodes === 0) {
      throw unprocessable('NO_ACTIVE_NODE', `a sell of ${this.symbol} needs an enabled inference node of model class ${spec.modelClassId}`);
    }
    // Open sells counted once per batch; sells accepted in the batch are added as they come, and
    // fills only move lots from open to sold, so the sum stays an upper bound (cancels only lower it).
    ctx.openSellLots ??= this.openSellLotsByProvider();
    const committedLots = known.soldBefore + (ctx.openSellLots.get(providerId) ?? 0) + lots;
    const committed = BigInt(lotsToTokens(committedLots, spec));
    const limit = known.tokensPerSecond * BigInt(spec.spotWindowSeconds);
    if (committed > limit) {
      throw unprocessable('CAPACITY_EXCEEDED', `this sell would commit ${committed} tokens in a delivery window; your enabled nodes can serve ${limit}`);
    }
  }

  /** Who may add sell quantity in this batch: sellers placing orders, and owners amending sells. */
  private sellersOf(requests: readonly WriterRequest[]): string[] {
    return requests.flatMap((r) =>
      (r.kind === 'place' && r.side === 'sell') || (r.kind === 'amend' && this.orders.get(r.orderId)?.side === 'sell') ? [r.participantId] : [],
    );
  }

  private openSellLotsByProvider(): Map<string, number> {
    const lots = new Map<string, number>();
    for (const o of this.orders.values()) {
      if (o.side === 'sell' && o.status === 'open') lots.set(o.participantId, (lots.get(o.participantId) ?? 0) + openLots(o));
    }
    return lots;
  }

  /**
   * Capacity of every provider selling in the batch (one query), and what each sold within the
   * delivery window. Sales are kept in memory per provider, read from `fills` the first time a
   * provider sells after the book was loaded and added to as fills commit, so the check does not
   * grow with a provider's history.
   */
  private async capacities(spec: InstrumentSpec, providers: string[], now: number): Promise<BatchContext['capacity']> {
    const capacity: BatchContext['capacity'] = new Map();
    if (spec.kind !== 'spot' || providers.length === 0) return capacity;
    const unknown = providers.filter((p) => !this.sales.has(p));
    const [nodes, sold]: [Array<{ provider_id: string; nodes: number; tokens_per_second: string }>, Array<{ seller_id: string; at: Date; lots: string }>] =
      await Promise.all([
        this.deps.dataSource.query(
          `SELECT provider_id, count(*)::int AS nodes, sum(tokens_per_second)::text AS tokens_per_second FROM inference_nodes
            WHERE provider_id = ANY($1::uuid[]) AND model_class_id = $2 AND status = 'enabled' GROUP BY provider_id`,
          [providers, spec.modelClassId],
        ),
        unknown.length === 0
          ? []
          : this.deps.dataSource.query(
              `SELECT seller_id, created_at AS at, quantity_lots::text AS lots FROM fills
                WHERE seller_id = ANY($1::uuid[]) AND instrument = $2 AND created_at > now() - make_interval(secs => $3)
                ORDER BY created_at`,
              [unknown, this.symbol, spec.spotWindowSeconds],
            ),
      ]);
    for (const provider of unknown) this.sales.set(provider, new SalesWindow());
    for (const r of sold) this.sales.get(r.seller_id)!.add(r.at.getTime(), Number(r.lots));
    const windowStart = now - spec.spotWindowSeconds * 1000;
    for (const r of nodes) {
      const soldBefore = this.sales.get(r.provider_id)!.since(windowStart);
      capacity.set(r.provider_id, { activeNodes: r.nodes, tokensPerSecond: BigInt(r.tokens_per_second), soldBefore });
    }
    return capacity;
  }

  private async knownClientOrderIds(places: ReadonlyArray<{ participantId: string; clientOrderId?: string }>): Promise<Map<string, bigint>> {
    const keyed = places.filter((p) => p.clientOrderId !== undefined);
    if (keyed.length === 0) return new Map();
    const rows: Array<{ id: string; participant_id: string; client_order_id: string }> = await this.deps.dataSource.query(
      `SELECT o.id, o.participant_id, o.client_order_id FROM orders o
         JOIN unnest($1::uuid[], $2::text[]) AS k(participant_id, client_order_id)
           ON o.participant_id = k.participant_id AND o.client_order_id = k.client_order_id`,
      [keyed.map((p) => p.participantId), keyed.map((p) => p.clientOrderId)],
    );
    return new Map(rows.map((r) => [`${r.participant_id}\u0000${r.client_order_id}`, BigInt(r.id)]));
  }

  /**
   * Fresh order ids, ascending. They come from the shared sequence in blocks of at least
   * ORDER_ID_BLOCK, so most batches need no round trip for them; ids of a failed batch or of a
   * process that stopped are simply never used (ids need only be unique and rise per book).
   */
  private async allocateOrderIds(count: number): Promise<number[]> {
    if (count > this.freeOrderIds.length) {
      const rows: Array<{ id: string }> = await this.deps.dataSource.query(
        `SELECT nextval('order_ids')::text AS id FROM generate_series(1, $1)`,
        [Math.max(count, ORDER_ID_BLOCK)],
      );
      this.freeOrderIds = rows.map((r) => Number(r.id)).sort((a, b) => a - b);
    }
    return this.freeOrderIds.splice(0, count);
  }

  private async spendable(accountIds: AccountId[]): Promise<Map<AccountId, bigint>> {
    if (accountIds.length === 0) return new Map();
    const rows: Array<{ id: string; spendable: string }> = await this.deps.dataSource.query(
      `SELECT id::text, (credits_posted - debits_posted - debits_pending)::text AS spendable FROM accounts WHERE id = ANY($1::bigint[])`,
      [accountIds.map(String)],
    );
    return new Map(rows.map((r) => [BigInt(r.id), BigInt(r.spendable)]));
  }

  /** The batch's orders (inserted or updated), its fills and the book's new position, in one statement. */
  private writeBookSql(orders: LiveOrder[], fills: FillRecord[]): string {
    const order = (type: string, f: (o: LiveOrder) => string | number | boolean | null) => arrayLiteral(orders.map(f), type);
    const fill = (type: string, f: (x: FillRecord) => string | number | null) => arrayLiteral(fills.map(f), type);
    const symbol = literal(this.symbol);
    return `WITH written_orders AS (
         INSERT INTO orders (id, participant_id, instrument, client_order_id, side, type, time_in_force, price_ticks, quantity_lots,
                             filled_lots, status, close_reason, post_only, self_trade_prevention, expires_at, hold_micros,
                             taker_notional_micros, maker_notional_micros, fees_micros, accepted_seq, priority_seq, created_at)
         SELECT * FROM unnest(${order('bigint', (o) => o.id)}, ${order('uuid', (o) => o.participantId)}, ${order('text', (o) => o.instrument)},
                              ${order('text', (o) => o.clientOrderId)}, ${order('text', (o) => o.side)}, ${order('text', (o) => o.type)},
                              ${order('text', (o) => o.timeInForce)}, ${order('bigint', (o) => o.priceTicks)}, ${order('bigint', (o) => o.quantity)},
                              ${order('bigint', (o) => o.filled)}, ${order('text', (o) => o.status)}, ${order('text', (o) => o.closeReason)},
                              ${order('boolean', (o) => o.postOnly)}, ${order('text', (o) => o.stp)},
                              ${order('timestamptz', (o) => (o.expiresAt === null ? null : new Date(o.expiresAt).toISOString()))},
                              ${order('bigint', (o) => String(o.hold))}, ${order('bigint', (o) => String(o.fees.takerNotional))},
                              ${order('bigint', (o) => String(o.fees.makerNotional))}, ${order('bigint', (o) => String(o.feesPaid))},
                              ${order('bigint', (o) => o.acceptedSeq)}, ${order('bigint', (o) => o.prioritySeq)},
                              ${order('timestamptz', (o) => o.createdAt.toISOString())})
         ON CONFLICT (id) DO UPDATE SET
           price_ticks = excluded.price_ticks, quantity_lots = excluded.quantity_lots, filled_lots = excluded.filled_lots,
           status = excluded.status, close_reason = excluded.close_reason, hold_micros = excluded.hold_micros,
           taker_notional_micros = excluded.taker_notional_micros, maker_notional_micros = excluded.maker_notional_micros,
           fees_micros = excluded.fees_micros, priority_seq = excluded.priority_seq, updated_at = now()
         RETURNING 1
       ), written_fills AS (
         INSERT INTO fills (instrument, id, seq, maker_order_id, taker_order_id, buyer_id, seller_id, taker_side, price_ticks,
                            quantity_lots, notional_micros, buyer_fee_micros, seller_fee_micros, created_at)
         SELECT ${symbol}, * FROM unnest(${fill('text', (f) => f.id)}, ${fill('bigint', (f) => f.seq)}, ${fill('bigint', (f) => f.makerOrderId)},
                                     ${fill('bigint', (f) => f.takerOrderId)}, ${fill('uuid', (f) => f.buyerId)}, ${fill('uuid', (f) => f.sellerId)},
                                     ${fill('text', (f) => f.takerSide)}, ${fill('bigint', (f) => f.priceTicks)}, ${fill('bigint', (f) => f.lots)},
                                     ${fill('bigint', (f) => String(f.notional))}, ${fill('bigint', (f) => String(f.buyerFee))},
                                     ${fill('bigint', (f) => String(f.sellerFee))}, ${fill('timestamptz', (f) => f.createdAt.toISOString())})
         RETURNING 1
       )
       UPDATE instrument_books SET last_seq = ${this.book.lastSequence}, reference_price_ticks = ${this.book.referencePriceTicks ?? 'NULL'},
              updated_at = now()
        WHERE instrument = ${symbol}`;
  }
}

/** Lots a provider sold, by time, kept only as long as they count in a delivery window. */
class SalesWindow {
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

/** The levels that differ between two L2 views of one side (quantity 0: the level is gone). */
function levelChanges(
  side: 'buy' | 'sell',
  before: ReadonlyArray<{ priceTicks: number; quantity: number; orderCount: number }>,
  after: ReadonlyArray<{ priceTicks: number; quantity: number; orderCount: number }>,
): LevelChange[] {
  const old = new Map(before.map((l) => [l.priceTicks, l]));
  const changes: LevelChange[] = [];
  for (const level of after) {
    const previous = old.get(level.priceTicks);
    old.delete(level.priceTicks);
    if (!previous || previous.quantity !== level.quantity || previous.orderCount !== level.orderCount) changes.push({ side, ...level });
  }
  for (const gone of old.values()) changes.push({ side, priceTicks: gone.priceTicks, quantity: 0, orderCount: 0 });
  return changes;
}

/** A balance changed between the optimistic check and the locked one; the batch runs again. */
class BalanceMovedError extends Error {
  constructor(transferId: string) {
    super(`balance moved under transfer ${transferId}`);
  }
}

/** Order ids fetched from the sequence at a time. */
const ORDER_ID_BLOCK = 1_000;

/** SQLSTATE of a CHECK constraint violation: here, an account that would be overdrawn. */
const CHECK_VIOLATION = '23514';

function unavailable(message: string): DomainError {
  return new DomainError('ORDER_BOOK_BUSY', message, 'unavailable', { retryAfterSeconds: 1 });
}

/**
 * Failures that a fresh attempt resolves: a deadlock or serialization failure, or a unique
 * violation (the same clientOrderId committed meanwhile on another instrument: the next attempt's
 * pre-read finds it and answers with that order).
 */
function isSerializationProblem(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return code === '40P01' || code === '40001' || code === '23505';
}

export interface OrderRecord {
  id: string;
  participant_id: string;
  instrument: string;
  client_order_id: string | null;
  side: 'buy' | 'sell';
  type: 'limit' | 'market';
  time_in_force: TimeInForce;
  price_ticks: string;
  quantity_lots: string;
  filled_lots: string;
  status: LiveOrder['status'];
  close_reason: string | null;
  post_only: boolean;
  self_trade_prevention: StpMode;
  expires_at: Date | null;
  hold_micros: string;
  taker_notional_micros: string;
  maker_notional_micros: string;
  fees_micros: string;
  accepted_seq: string;
  priority_seq: string;
  created_at: Date;
}

export const ORDER_COLUMNS = `id, participant_id, instrument, client_order_id, side, type, time_in_force, price_ticks, quantity_lots,
  filled_lots, status, close_reason, post_only, self_trade_prevention, expires_at, hold_micros, taker_notional_micros,
  maker_notional_micros, fees_micros, accepted_seq, priority_seq, created_at`;

export function toLiveOrder(r: OrderRecord): LiveOrder {
  return {
    id: Number(r.id),
    participantId: r.participant_id,
    instrument: r.instrument,
    clientOrderId: r.client_order_id,
    side: r.side,
    type: r.type,
    timeInForce: r.time_in_force,
    postOnly: r.post_only,
    stp: r.self_trade_prevention,
    expiresAt: r.expires_at === null ? null : r.expires_at.getTime(),
    priceTicks: Number(r.price_ticks),
    quantity: Number(r.quantity_lots),
    filled: Number(r.filled_lots),
    status: r.status,
    closeReason: r.close_reason,
    hold: BigInt(r.hold_micros),
    fees: { takerNotional: BigInt(r.taker_notional_micros), makerNotional: BigInt(r.maker_notional_micros) },
    feesPaid: BigInt(r.fees_micros),
    acceptedSeq: Number(r.accepted_seq),
    prioritySeq: Number(r.priority_seq),
    createdAt: r.created_at,
  };
}
