import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DomainError } from '../common/domain-error.js';
import type { InstrumentSpec } from '../markets/instrument-terms.js';
import { BalanceMovedError, commitPlan } from './batch-commit.js';
import type { BookEvents, BookView, CommittedBatch } from './book-events.js';
import type { BookFacts } from './book-facts.js';
import { loadBook } from './book-loader.js';
import type { BookCommand, CommandResult } from './core/book-commands.js';
import { type BookState, planBatch } from './core/plan-batch.js';
import type { ProductShell } from './products.js';
import { keyedAnswers } from './keyed-answers.js';
import { adminCancelAuditsSql } from './admin-cancel-audits.js';
import { recordAnswersSql } from '../platform/idempotency/stored-answers.js';

/** Commands taken into one transaction at most (group commit). */
const MAX_BATCH = 500;
/** Commands waiting at most; beyond, new ones are refused with 503 and a retry hint. */
export const MAX_QUEUE = 10_000;
/** A batch whose balances moved under it, or that lost a race, runs again at most this often. */
const ATTEMPTS = 3;

export interface BookWriterDependencies {
  readonly dataSource: DataSource;
  readonly facts: BookFacts;
  /** The products the writer can run, by instrument kind. */
  readonly product: (spec: InstrumentSpec) => ProductShell;
  /** The instrument as PostgreSQL has it now (404 if it is gone). */
  readonly instrument: () => Promise<InstrumentSpec>;
  /** Called after every committed batch that changed the book, in sequence order. */
  readonly published: BookEvents['publish'];
  /** Measures every group commit: its size, and how long preparing and committing took. */
  readonly measured?: (commands: number, prepareSeconds: number, commitSeconds: number) => void;
}

interface Queued {
  readonly command: BookCommand;
  readonly resolve: (result: CommandResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The one writer of a book, in the process that owns it. Commands queue here; a loop takes all
 * that wait (up to MAX_BATCH), reads the facts they need, plans them with the pure planner, and
 * commits the plan in one transaction (group commit). Only then are the callers answered and the
 * batch published. While a batch commits, new commands queue up, so batches grow with load.
 *
 * Funds are checked optimistically against balances read before the batch; the database refuses
 * an overdraft at commit (see commitPlan). If a balance moved meanwhile, or the commit fails,
 * the book is rebuilt from PostgreSQL and the batch runs again: memory never gets ahead of what is
 * durable. GTD orders expire on a timer set for the book's next expiry.
 */
export class BookWriter {
  private readonly logger: Logger;
  private readonly queue: Queued[] = [];
  private state!: BookState;
  private latestSpec!: InstrumentSpec;
  private running = false;
  private stopped = false;
  /** Set when a batch failed and the book could not yet be rebuilt from PostgreSQL. */
  private needsLoad = false;
  private specStale = false;
  private idleWaiters: Array<() => void> = [];
  private rebuilding?: Promise<void>;
  /** Views asked for while a batch was in flight: answered between two batches. */
  private viewRequests: Array<{ readonly maxLevels?: number; readonly resolve: (view: BookView) => void; readonly reject: (error: unknown) => void }> = [];
  private expiryTimer?: NodeJS.Timeout;
  private expiryAt?: number;

  constructor(
    readonly symbol: string,
    private readonly deps: BookWriterDependencies,
  ) {
    this.logger = new Logger(`BookWriter:${symbol}`);
  }

  get depth(): number {
    return this.queue.length;
  }

  /** The instrument as last read: at load, and again after every halt or resume. */
  get spec(): InstrumentSpec {
    return this.latestSpec;
  }

  /** A halt or resume: read the instrument again before the next batch. */
  instrumentChanged(): void {
    this.specStale = true;
  }

  /** Rebuilds the book from PostgreSQL: the open orders in price-time priority, and the book position. */
  async load(): Promise<void> {
    this.latestSpec = await this.deps.instrument();
    this.state = await loadBook(this.deps.dataSource, this.latestSpec, this.deps.product(this.latestSpec));
    await this.deps.facts.reset(this.state.orders.values(), this.deps.product(this.latestSpec).participants(this.state.product));
    this.scheduleExpiry();
  }

  /**
   * The aggregated book as of the last committed batch. Memory runs ahead of PostgreSQL while a
   * batch is planned and committed, so a view asked for then is taken right after that batch,
   * before the next one starts: under steady load too, never mid-batch.
   */
  view(maxLevels?: number): Promise<BookView> {
    if (!this.running && !this.needsLoad) return Promise.resolve(this.currentView(maxLevels));
    const answered = new Promise<BookView>((resolve, reject) => this.viewRequests.push({ maxLevels, resolve, reject }));
    if (!this.running) void this.reloadForViews();
    return answered;
  }

  submit(command: BookCommand): Promise<CommandResult> {
    if (this.stopped) return Promise.reject(unavailable('the exchange is shutting down; retry'));
    if (this.queue.length >= MAX_QUEUE) {
      return Promise.reject(new DomainError('QUEUE_FULL', `too many orders waiting for ${this.symbol}; retry shortly`, 'unavailable', { retryAfterSeconds: 1 }));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ command, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.expiryTimer);
    while (this.running) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    for (const item of this.queue.splice(0)) item.reject(unavailable('the exchange is shutting down; retry'));
  }

  /** Commits batch after batch until the queue is empty, answering waiting views between batches. */
  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        await this.commitBatch(this.queue.splice(0, MAX_BATCH));
        if (!this.needsLoad) this.answerViews();
      }
    } finally {
      this.running = false;
      for (const wake of this.idleWaiters.splice(0)) wake();
      if (this.viewRequests.length > 0) void this.reloadForViews();
      this.scheduleExpiry();
    }
  }

  private currentView(maxLevels?: number): BookView {
    const { book } = this.state;
    return { seq: book.lastSequence, bids: book.depth('buy', maxLevels), asks: book.depth('sell', maxLevels), referencePriceTicks: book.referencePriceTicks };
  }

  /** Synchronously, so no batch can start in between: every waiting view sees the same committed book. */
  private answerViews(): void {
    for (const request of this.viewRequests.splice(0)) request.resolve(this.currentView(request.maxLevels));
  }

  /** Views wait on an idle writer only when its book must be rebuilt first (a batch failed). */
  private async reloadForViews(): Promise<void> {
    try {
      await this.rebuild();
    } catch {
      for (const request of this.viewRequests.splice(0)) request.reject(unavailable('the order book is being rebuilt; retry'));
      return;
    }
    if (!this.running) this.answerViews();
  }

  /**
   * Rebuilds the book from PostgreSQL once after a failed batch: a batch and a view that both find
   * the book must be rebuilt share one load, so memory is never replaced under a running batch.
   */
  private rebuild(): Promise<void> {
    if (!this.needsLoad) return Promise.resolve();
    this.rebuilding ??= this.load()
      .then(() => {
        this.needsLoad = false;
      })
      .finally(() => (this.rebuilding = undefined));
    return this.rebuilding;
  }

  private async commitBatch(batch: Queued[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const results = await this.runBatch(batch.map((item) => item.command));
        batch.forEach((item, i) => {
          const result = results[i];
          if (result instanceof DomainError) item.reject(result);
          else item.resolve(result);
        });
        return;
      } catch (error) {
        // Memory may be ahead of PostgreSQL now: rebuild it from what is durable, then try again.
        // Until a rebuild succeeds, no batch runs on memory that may hold uncommitted effects.
        this.needsLoad = true;
        await this.rebuild().catch((e) => this.logger.error({ err: e }, 'could not reload the book; the next batch tries again'));
        const retryable = error instanceof BalanceMovedError || isSerializationProblem(error);
        if (!retryable || attempt === ATTEMPTS) {
          if (!retryable) this.logger.error({ err: error }, 'order batch failed');
          for (const item of batch) item.reject(retryable ? unavailable('the order book is busy; retry') : error);
          return;
        }
      }
    }
  }

  /** One group commit: facts, plan, commit, publish. Returns each command's result or refusal. */
  private async runBatch(commands: BookCommand[]): Promise<Array<CommandResult | DomainError>> {
    const started = performance.now();
    await this.rebuild().catch(() => {
      throw unavailable('the order book is being rebuilt; retry');
    });
    if (this.specStale) {
      this.specStale = false;
      this.latestSpec = await this.deps.instrument();
    }
    const spec = this.latestSpec;
    const product = this.deps.product(spec);
    const now = Date.now();
    const facts = await this.deps.facts.read(this.state, spec, product, commands, now);
    const plan = planBatch(this.state, product.rules, facts, commands);
    const { results, toStore } = keyedAnswers(commands, plan.results, spec);
    const prepared = performance.now();
    await commitPlan(this.deps.dataSource, spec, plan, [...product.commitSql(spec, plan), ...recordAnswersSql(toStore), ...adminCancelAuditsSql(this.symbol, commands, results)]);
    this.deps.measured?.(commands.length, (prepared - started) / 1000, (performance.now() - prepared) / 1000);

    this.deps.facts.committed(plan.fills, now);
    for (const order of plan.orders) if (order.status !== 'open') this.state.orders.delete(order.id);
    if (plan.seq !== plan.previousSeq) {
      const batch: CommittedBatch = {
        instrument: this.symbol,
        seq: plan.seq,
        previousSeq: plan.previousSeq,
        fills: plan.fills,
        levels: plan.levels,
        orders: plan.orders.map((o) => ({ ...o })),
        committedAt: new Date(),
      };
      this.deps.published(batch);
    }
    return results;
  }

  /** Sets the timer for the book's earliest GTD expiry (the engine's expiry queue knows it). */
  private scheduleExpiry(): void {
    const next = this.state?.book.nextExpiry();
    if (this.stopped || next === this.expiryAt) return;
    clearTimeout(this.expiryTimer);
    this.expiryAt = next;
    if (next === undefined) return;
    this.expiryTimer = setTimeout(() => {
      this.expiryAt = undefined;
      void this.submit({ kind: 'expire' }).catch(() => undefined);
    }, Math.max(0, next - Date.now()) + 1);
    this.expiryTimer.unref();
  }
}

function unavailable(message: string): DomainError {
  return new DomainError('ORDER_BOOK_BUSY', message, 'unavailable', { retryAfterSeconds: 1 });
}

/**
 * Failures that a fresh attempt resolves: a deadlock or serialization failure, or a unique
 * violation (the same clientOrderId or Idempotency-Key committed meanwhile on another instrument
 * or route: the next attempt's pre-read finds it and answers with that order, or a 409).
 */
function isSerializationProblem(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return code === '40P01' || code === '40001' || code === '23505';
}
