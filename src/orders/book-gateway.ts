import { type BeforeApplicationShutdown, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError } from '../common/domain-error.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { type InstrumentSpec, instrumentSymbol } from '../markets/instrument-terms.js';
import { INSTRUMENT_CHANNEL, MarketsService } from '../markets/markets.service.js';
import { spotIndexPrice } from '../markets/spot-index.js';
import { NodesService } from '../nodes/nodes.service.js';
import { ForegroundLatency } from '../platform/observability/foreground-latency.js';
import { MetricsService } from '../platform/observability/metrics.service.js';
import type { BookView, CommittedBatch } from './book-events.js';
import { BookFacts } from './book-facts.js';
import { BookOwnership } from './book-ownership.js';
import { BookRelay, NoAnswer, NotOwnerAnswer } from './book-relay.js';
import type { BookRequest } from './book-requests.js';
import { BookWriter } from './book-writer.js';
import type { BookCommand, CommandResult } from './core/book-commands.js';
import { ProductCatalog } from './products.js';
import { RedisBookEvents } from './redis-book-events.js';

/** How long a relayed request may wait for the owner's answer (a batch under load takes a while). */
const RELAY_TIMEOUT_MS = 15_000;
/** Attempts to find and reach a book's owner before the caller is told to retry. */
const ROUTE_ATTEMPTS = 5;
/** How often a relayed request checks that the owner still holds the book. */
const OWNER_CHECK_MS = 1_000;

/**
 * The one way into a book. Every command that touches a book (place, amend, cancel, mass cancel,
 * the dead-man switch, expiry) and every committed view goes through `submit` or `view`. The
 * process that owns the book runs it on its writer; any other process relays it to the owner and
 * returns the owner's answer; a book nobody owns is taken by the process that first needs it.
 * When an owner dies its lock is freed, and the next request for the book takes it over and
 * rebuilds it from PostgreSQL.
 */
@Injectable()
export class BookGateway implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(BookGateway.name);
  private readonly writers = new Map<string, Promise<BookWriter | undefined>>();
  /** The owner of each book another process serves, as last found. */
  private readonly owners = new Map<string, string>();
  private readonly terms = new Map<string, Promise<InstrumentSpec>>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ownership: BookOwnership,
    private readonly relay: BookRelay,
    private readonly events: RedisBookEvents,
    private readonly ledger: LedgerService,
    private readonly markets: MarketsService,
    private readonly nodes: NodesService,
    private readonly metrics: MetricsService,
    private readonly products: ProductCatalog,
    private readonly foreground: ForegroundLatency,
  ) {
    metrics.gauge('tokex_order_queue_depth', 'Commands waiting for each book writer of this process', ['instrument'], async (gauge) => {
      for (const [symbol, writer] of this.writers) gauge.set({ instrument: symbol }, (await writer.catch(() => undefined))?.depth ?? 0);
    });
    ownership.onLost(() => void this.stopAll());
    markets.onStatusChanged((symbol) => this.refresh(symbol));
  }

  async onModuleInit(): Promise<void> {
    await this.relay.serve(this.ownership.processId, (symbol, request) => this.serveLocally(symbol, request));
    await this.events.ready();
    // Halts and resumes decided in other processes arrive here, on their commit.
    await this.ownership.listen(INSTRUMENT_CHANNEL, (symbol) => this.refresh(symbol));
  }

  /** Runs a command on the book, wherever it is served; answers once it is committed. */
  async submit(symbol: string, command: BookCommand): Promise<CommandResult> {
    return (await this.route(symbol, { op: 'submit', command })) as CommandResult;
  }

  /** The book's aggregated levels as of a committed sequence. */
  async view(symbol: string, maxLevels?: number): Promise<BookView> {
    return (await this.route(symbol, { op: 'view', ...(maxLevels !== undefined ? { maxLevels } : {}) })) as BookView;
  }

  /** The instrument's terms (404 if unknown); its grid and fees never change after listing. */
  instrument(symbol: string): Promise<InstrumentSpec> {
    let terms = this.terms.get(symbol);
    if (!terms) {
      terms = this.markets.requireInstrument(symbol);
      this.terms.set(symbol, terms);
      terms.catch(() => this.terms.delete(symbol));
    }
    return terms;
  }

  /** Every committed batch of every book, whichever process owns it, in commit order per book. */
  onCommitted(listener: (batch: CommittedBatch) => void): () => void {
    return this.events.subscribe(listener);
  }

  /** Whether this process serves the book now. */
  serves(symbol: string): boolean {
    return this.writers.has(symbol);
  }

  /** Stops serving a book and frees its lock for any process (queued commands get 503 and retry). */
  async release(symbol: string): Promise<void> {
    const writer = await this.writers.get(symbol)?.catch(() => undefined);
    this.writers.delete(symbol);
    await writer?.stop();
    await this.ownership.release(symbol);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stopAll();
    await this.ownership.close();
  }

  /**
   * Local if this process owns (or can take) the book; otherwise relayed to its owner (cached
   * until it stops answering for the book). A relayed request whose owner dies before answering
   * has an unknown outcome, and says so: it may have been committed.
   */
  private async route(symbol: string, request: BookRequest): Promise<unknown> {
    await this.instrument(symbol); // 404 before any lock is taken on the name
    for (let attempt = 1; attempt <= ROUTE_ATTEMPTS; attempt++) {
      const cached = this.owners.get(symbol);
      const local = cached === undefined ? await this.localWriter(symbol) : await this.writers.get(symbol);
      if (local) return this.runOn(local, request);
      const owner = cached ?? (await this.ownership.ownerOf(symbol));
      if (owner === undefined) continue; // the owner just left: take the book on the next turn
      this.owners.set(symbol, owner);
      try {
        return await this.relayWhileAlive(owner, symbol, request);
      } catch (error) {
        if (!(error instanceof NotOwnerAnswer || error instanceof NoAnswer)) throw error;
        this.owners.delete(symbol);
        if (error instanceof NoAnswer) {
          throw new DomainError(
            'ORDER_OUTCOME_UNKNOWN',
            `the process serving ${symbol} stopped before answering; if this was an order, resend it with the same clientOrderId`,
            'unavailable',
            { retryAfterSeconds: 1 },
          );
        }
      }
    }
    throw new DomainError('ORDER_BOOK_BUSY', `the ${symbol} book is changing hands; retry`, 'unavailable', { retryAfterSeconds: 1 });
  }

  /** Relays a request, giving up (NoAnswer) as soon as the owner no longer holds the book. */
  private async relayWhileAlive(owner: string, symbol: string, request: BookRequest): Promise<unknown> {
    const call = this.relay.call(owner, symbol, request, RELAY_TIMEOUT_MS);
    call.catch(() => undefined);
    let waiting = true;
    const watch = (async (): Promise<never> => {
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, OWNER_CHECK_MS).unref());
        if (!waiting) return new Promise<never>(() => undefined);
        const now = await this.ownership.ownerOf(symbol).catch(() => owner);
        if (now !== owner) throw new NoAnswer(`${owner} stopped serving ${symbol}`);
      }
    })();
    try {
      return await Promise.race([call, watch]);
    } finally {
      waiting = false;
    }
  }

  /** Serves a request relayed from another process, if this process still owns the book. */
  private async serveLocally(symbol: string, request: BookRequest): Promise<unknown> {
    const writer = await this.writers.get(symbol)?.catch(() => undefined);
    if (!writer) throw new NotOwnerAnswer(symbol);
    return this.runOn(writer, request);
  }

  private runOn(writer: BookWriter, request: BookRequest): Promise<unknown> {
    return request.op === 'submit' ? writer.submit(request.command) : writer.view(request.maxLevels);
  }

  /** This process's writer for the book: the one it has, or a new one if nobody owns the book. */
  private async localWriter(symbol: string): Promise<BookWriter | undefined> {
    let writer = this.writers.get(symbol);
    if (!writer) {
      writer = this.open(symbol);
      this.writers.set(symbol, writer);
      const opened = writer;
      opened.then(
        (w) => w === undefined && this.writers.get(symbol) === opened && this.writers.delete(symbol),
        () => this.writers.get(symbol) === opened && this.writers.delete(symbol),
      );
    }
    return writer;
  }

  private async open(symbol: string): Promise<BookWriter | undefined> {
    if (!(await this.ownership.tryTake(symbol))) return undefined;
    try {
      const writer: BookWriter = new BookWriter(symbol, {
        dataSource: this.dataSource,
        facts: new BookFacts(symbol, { dataSource: this.dataSource, ledger: this.ledger, nodes: this.nodes, indexPrice: () => this.indexPrice(writer.spec) }),
        instrument: () => this.markets.requireInstrument(symbol),
        product: (spec) => this.products.shellFor(spec.kind),
        published: (batch) => this.events.publish(batch),
        measured: ({ commands, prepareSeconds, commitSeconds }) => {
          this.metrics.orderBatchSize.observe({ instrument: symbol }, commands);
          this.metrics.orderBatchDuration.observe({ instrument: symbol, phase: 'prepare' }, prepareSeconds);
          this.metrics.orderBatchDuration.observe({ instrument: symbol, phase: 'commit' }, commitSeconds);
          this.foreground.report((prepareSeconds + commitSeconds) * 1000); // usage ingest yields to order entry
        },
        planned: (how) => this.metrics.orderBatchesPlanned.inc({ instrument: symbol, planned: how }),
        retried: (reason) => this.metrics.orderBatchRetries.inc({ instrument: symbol, reason }),
      });
      await writer.load();
      this.logger.log({ instrument: symbol }, 'serving the book');
      return writer;
    } catch (error) {
      await this.ownership.release(symbol).catch(() => undefined);
      throw error;
    }
  }

  /** The model class's spot index (last hour's VWAP, else last trade) converted to `spec`'s tick. */
  private async indexPrice(spec: InstrumentSpec): Promise<number | undefined> {
    const spot = await this.markets.instrument(instrumentSymbol(spec.modelClassId));
    if (!spot) return undefined;
    const index = await spotIndexPrice(this.dataSource, spot.symbol, new Date(Date.now() - 3_600_000));
    if (!index) return undefined;
    const micros = BigInt(index.priceTicks) * BigInt(spot.tickMicroUsdPerMTok);
    const tick = BigInt(spec.tickMicroUsdPerMTok);
    return Number((micros + tick / 2n) / tick);
  }

  /** A halt or resume: the writer re-reads its instrument before its next batch. */
  private refresh(symbol: string): void {
    void this.writers.get(symbol)?.then((writer) => writer?.instrumentChanged(), () => undefined);
  }

  private async stopAll(): Promise<void> {
    const writers = [...this.writers.values()];
    this.writers.clear();
    for (const writer of writers) await (await writer.catch(() => undefined))?.stop();
  }
}

