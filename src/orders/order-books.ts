import { type BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { DomainError } from '../common/domain-error.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { type InstrumentSpec, instrumentSymbol } from '../markets/instrument-terms.js';
import { INSTRUMENT_CHANNEL, MarketsService } from '../markets/markets.service.js';
import { spotIndexPrice } from '../markets/spot-index.js';
import { NodesService } from '../nodes/nodes.service.js';
import { MetricsService } from '../platform/observability/metrics.service.js';
import { BOOK_WRITE_LOCK, type CommittedBatch, InstrumentWriter } from './instrument-writer.js';

/**
 * The instrument writers of this process. A process serves an instrument only while it holds
 * that instrument's PostgreSQL advisory lock, on a connection of its own kept for the process's
 * life: two processes can never match the same book, and a process that dies (or loses its
 * connection) releases its books at once. Writers start on first use, rebuilt from PostgreSQL.
 */
@Injectable()
export class OrderBooks implements BeforeApplicationShutdown {
  private readonly logger = new Logger(OrderBooks.name);
  private readonly writers = new Map<string, Promise<InstrumentWriter>>();
  private readonly listeners = new Set<(batch: CommittedBatch) => void>();
  private lockConnection?: Promise<pg.Client>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ledger: LedgerService,
    private readonly markets: MarketsService,
    private readonly nodes: NodesService,
    private readonly metrics: MetricsService,
  ) {
    markets.onStatusChanged((symbol) => this.refresh(symbol));
    metrics.gauge('tokex_order_queue_depth', 'Commands waiting for each instrument writer', ['instrument'], async (gauge) => {
      for (const [symbol, writer] of this.writers) gauge.set({ instrument: symbol }, (await writer.catch(() => undefined))?.depth ?? 0);
    });
  }

  /** Every committed batch of every book this process serves, in commit order per book. */
  onCommitted(listener: (batch: CommittedBatch) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A halt or resume: the writer re-reads its instrument before its next batch. */
  private refresh(symbol: string): void {
    void this.writers.get(symbol)?.then((writer) => writer.instrumentChanged(), () => undefined);
  }

  writerFor(symbol: string): Promise<InstrumentWriter> {
    let writer = this.writers.get(symbol);
    if (!writer) {
      writer = this.open(symbol);
      this.writers.set(symbol, writer);
      writer.catch(() => this.writers.delete(symbol));
    }
    return writer;
  }

  private async open(symbol: string): Promise<InstrumentWriter> {
    await this.markets.requireInstrument(symbol); // before taking a lock on the name
    const connection = await this.connection();
    const [{ owned }] = (await connection.query(`SELECT pg_try_advisory_lock(hashtext('tokex:book:' || $1)) AS owned`, [symbol])).rows;
    if (!owned) {
      throw new DomainError('NOT_BOOK_OWNER', `another process serves ${symbol}; send its orders there`, 'unavailable', { retryAfterSeconds: 1 });
    }
    // A previous owner that died may still have a batch committing on another of its connections
    // (PostgreSQL may close the lock's connection first). Every batch holds the book's write lock
    // shared; taking it exclusively once waits for any such batch to end before the book is read.
    await connection.query(`SELECT pg_advisory_lock(${BOOK_WRITE_LOCK}), pg_advisory_unlock(${BOOK_WRITE_LOCK})`, [symbol]);
    const writer: InstrumentWriter = new InstrumentWriter(symbol, {
      dataSource: this.dataSource,
      ledger: this.ledger,
      nodes: this.nodes,
      instrument: () => this.markets.requireInstrument(symbol),
      indexPrice: () => this.indexPrice(writer.spec),
      published: (batch) => this.listeners.forEach((listener) => listener(batch)),
      measured: (commands, prepare, commit) => {
        this.metrics.orderBatchSize.observe({ instrument: symbol }, commands);
        this.metrics.orderBatchDuration.observe({ instrument: symbol, phase: 'prepare' }, prepare);
        this.metrics.orderBatchDuration.observe({ instrument: symbol, phase: 'commit' }, commit);
      },
    });
    await writer.load();
    writer.start();
    this.logger.log({ instrument: symbol }, 'serving the book');
    return writer;
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

  private connection(): Promise<pg.Client> {
    this.lockConnection ??= (async () => {
      const client = new pg.Client({ connectionString: this.config.database.url, application_name: 'tokex:book-locks' });
      client.on('error', (error) => {
        // Losing this connection loses the locks: stop serving every book rather than risk a second writer.
        this.logger.error({ err: error.message }, 'book lock connection lost; stopping all writers');
        this.lockConnection = undefined;
        void this.stopAll();
      });
      // Halts and resumes decided in other processes arrive here, on their commit.
      client.on('notification', (message) => message.payload && this.refresh(message.payload));
      await client.connect();
      await client.query(`LISTEN ${INSTRUMENT_CHANNEL}`);
      return client;
    })();
    return this.lockConnection;
  }

  /**
   * Expires a book's overdue GTD orders, releasing their holds, when no process is serving the
   * book (its owner's own timer does it otherwise): takes the book, lets its writer expire them,
   * and gives the book back unless this process was already serving it. Returns the orders expired.
   */
  async expireOverdue(symbol: string): Promise<number> {
    const served = this.writers.has(symbol);
    let writer: InstrumentWriter;
    try {
      writer = await this.writerFor(symbol);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'NOT_BOOK_OWNER') return 0; // its owner expires them
      throw error;
    }
    try {
      return (await writer.submit({ kind: 'expire' })).closed.length;
    } finally {
      if (!served) await this.release(symbol);
    }
  }

  /** Stops serving a book and frees its lock for any process (queued commands get 503 and retry). */
  async release(symbol: string): Promise<void> {
    const writer = await this.writers.get(symbol)?.catch(() => undefined);
    this.writers.delete(symbol);
    await writer?.stop();
    const connection = await this.lockConnection;
    await connection?.query(`SELECT pg_advisory_unlock(hashtext('tokex:book:' || $1))`, [symbol]);
  }

  private async stopAll(): Promise<void> {
    const writers = [...this.writers.values()];
    this.writers.clear();
    for (const writer of writers) await (await writer.catch(() => undefined))?.stop();
  }

  /** Before the database closes: a batch that is committing finishes, and its callers are answered. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.stopAll();
    const connection = await this.lockConnection?.catch(() => undefined);
    await connection?.end().catch(() => undefined);
  }
}
