import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DomainError } from '../common/domain-error.js';
import type { InstrumentSpec } from '../markets/instrument-terms.js';
import { BalanceMovedError, commitPlan, commitScript } from './batch-commit.js';
import type { BookEvents, BookView } from './book-events.js';
import type { BookFacts } from './book-facts.js';
import { loadBook, restingOwners } from './book-loader.js';
import type { BookCommand, CommandResult } from './core/book-commands.js';
import { type BookState, planBatch } from './core/plan-batch.js';
import { type UncommittedBatch, uncommittedBatch } from './core/uncommitted-batch.js';
import type { ProductShell } from './products.js';
import { keyedAnswers } from './keyed-answers.js';
import { adminCancelAuditsSql } from './admin-cancel-audits.js';
import { recordAnswersSql } from '../platform/idempotency/stored-answers.js';
import { asPlanned, type FailedPlan, isSerializationProblem, type PlannedBatch, plannedOrders, type Queued, unavailable, type ViewRequest } from './planned-batch.js';

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
  readonly measured?: (batch: { commands: number; prepareSeconds: number; commitSeconds: number }) => void;
  /** Called as each batch is planned: `ahead` while the previous one still commits, else alone. */
  readonly planned?: (how: 'ahead' | 'alone') => void;
  /** Called for every failed attempt of a batch, once the book is rebuilt: it runs again alone after a moved balance or a race, and is refused after an error. */
  readonly retried?: (reason: 'balance_moved' | 'conflict' | 'error') => void;
}

/**
 * The one writer of a book, in the process that owns it. Commands queue here; a loop takes all
 * that wait (up to MAX_BATCH), reads the facts they need, plans them with the pure planner, and
 * commits the plan in one transaction (group commit). Only then are the callers answered and the
 * batch published. While a batch commits, the next one is read and planned on top of it in memory
 * (its facts completed with what the committing batch writes: core/uncommitted-batch.ts), so the
 * writer never waits idle and batches grow with load; commits stay one at a time, in order.
 *
 * Funds are checked optimistically against balances read before the batch; the database refuses
 * an overdraft at commit (see commitPlan). If a balance moved meanwhile, or the commit fails, any
 * batch planned on top of it is set aside, the book is rebuilt from PostgreSQL and the batch runs
 * again alone: memory never gets ahead of what is durable for longer than a commit. GTD orders
 * expire on a timer set for the book's next expiry.
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
  /** Views asked for while a batch was in flight: answered with the next batch's commit, or between batches. */
  private viewRequests: ViewRequest[] = [];
  private expiryTimer?: NodeJS.Timeout;
  private expiryAt?: number;
  /** Wakes the loop when a command arrives while a batch commits. */
  private arrived?: () => void;

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
    await this.deps.facts.reset(restingOwners(this.state.book), this.deps.product(this.latestSpec).participants(this.state.product));
    this.scheduleExpiry();
  }

  /**
   * The aggregated book as of a committed batch. Memory runs ahead of PostgreSQL while batches are
   * planned and committed, so a view asked for then is taken as the next planned batch leaves the
   * book and answered once that batch has committed (or, when none follows, between batches).
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
      this.arrived?.();
      if (!this.running) void this.drain();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.expiryTimer);
    while (this.running) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    for (const item of this.queue.splice(0)) item.reject(unavailable('the exchange is shutting down; retry'));
  }

  /**
   * Commits batch after batch until the queue is empty. While batch N commits, batch N+1 is read
   * and planned (when nothing it reads depends on how N ends); N is then answered and published,
   * and N+1's commit starts at once.
   */
  private async drain(): Promise<void> {
    this.running = true;
    try {
      let committing: { readonly batch: PlannedBatch; readonly failure: Promise<unknown> } | undefined;
      while (this.queue.length > 0 || committing) {
        let next: PlannedBatch | FailedPlan | undefined;
        // Commands that arrive while a batch commits are planned at once, on top of it, when they can be.
        if (committing && (await this.arrivalBefore(committing.failure)) && this.canPlanAhead(committing.batch)) {
          next = await this.planNext(committing.batch.uncommitted);
        }
        if (committing) {
          const failure = await committing.failure;
          if (failure === undefined) this.finish(committing.batch);
          else {
            // Whatever was planned on top of the failed batch is void: back to the queue's head, after it.
            if (next && 'failure' in next) this.queue.unshift(...next.items);
            else if (next) this.setAside(next);
            next = undefined;
            this.setAside(committing.batch, false);
            await this.retry(committing.batch.items, failure);
          }
          committing = undefined;
        }
        if (next && 'failure' in next) {
          await this.retry(next.items, next.failure);
          continue;
        }
        if (!next && this.queue.length > 0) {
          if (!this.needsLoad) this.answerViews();
          const planned = await this.planNext();
          if ('failure' in planned) {
            await this.retry(planned.items, planned.failure);
            continue;
          }
          next = planned;
        }
        if (next) committing = { batch: next, failure: this.commit(next) };
      }
      if (!this.needsLoad) this.answerViews();
    } finally {
      this.running = false;
      for (const wake of this.idleWaiters.splice(0)) wake();
      if (this.viewRequests.length > 0) void this.reloadForViews();
      this.scheduleExpiry();
    }
  }

  /** True as soon as a command waits, false if `settled` comes first. */
  private async arrivalBefore(settled: Promise<unknown>): Promise<boolean> {
    if (this.queue.length > 0) return true;
    const arrival = new Promise<boolean>((resolve) => (this.arrived = () => resolve(true)));
    try {
      return await Promise.race([arrival, settled.then(() => false)]);
    } finally {
      this.arrived = undefined;
    }
  }

  /**
   * Whether the next batch can be planned while `batch` commits: only plain order flow. Product
   * commands (marks, expiries, top-ups) read what the committing batch writes, as do market orders
   * on a book without a reference price (the spot index) and a halt or resume (the instrument).
   */
  private canPlanAhead(batch: PlannedBatch): boolean {
    if (!batch.uncommitted || this.needsLoad || this.specStale || this.queue.length === 0) return false;
    if (batch.items.some((item) => item.command.kind === 'product')) return false;
    const noReference = this.state.book.referencePriceTicks === undefined;
    return !this.queue.slice(0, MAX_BATCH).some(({ command }) => command.kind === 'product' || (noReference && command.kind === 'place' && command.type === 'market'));
  }

  private async planNext(pending?: UncommittedBatch): Promise<PlannedBatch | FailedPlan> {
    const items = this.queue.splice(0, MAX_BATCH);
    try {
      return await this.plan(items, pending);
    } catch (failure) {
      return { items, failure };
    }
  }

  /** Puts a planned batch's commands back at the queue's head (its plan is void) and its views back. */
  private setAside(batch: PlannedBatch, requeue = true): void {
    if (requeue) this.queue.unshift(...batch.items);
    this.viewRequests.unshift(...batch.views.map(([request]) => request));
  }

  /**
   * Runs a batch again, alone, after an attempt failed: rebuilds the book from PostgreSQL (memory
   * may hold the failed attempt's effects) and tries again, up to ATTEMPTS in all, when the failure
   * is one a fresh attempt resolves; otherwise every command is refused.
   */
  private async retry(items: Queued[], failure: unknown): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      // Until a rebuild succeeds, no batch runs on memory that may hold uncommitted effects.
      this.needsLoad = true;
      await this.rebuild().catch((e) => this.logger.error({ err: e }, 'could not reload the book; the next batch tries again'));
      const retryable = failure instanceof BalanceMovedError || isSerializationProblem(failure);
      this.deps.retried?.(failure instanceof BalanceMovedError ? 'balance_moved' : retryable ? 'conflict' : 'error');
      if (!retryable || attempt === ATTEMPTS) {
        if (!retryable) this.logger.error({ err: failure }, 'order batch failed');
        for (const item of items) item.reject(retryable ? unavailable('the order book is busy; retry') : failure);
        return;
      }
      try {
        const batch = await this.plan(items);
        failure = await this.commit(batch);
        if (failure === undefined) return this.finish(batch);
        this.setAside(batch, false);
      } catch (error) {
        failure = error;
      }
    }
  }

  /** Reads the batch's facts and plans it on the book in memory: memory is then ahead of PostgreSQL until it commits. */
  private async plan(items: Queued[], pending?: UncommittedBatch): Promise<PlannedBatch> {
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
    const commands = items.map((item) => item.command);
    const now = Date.now();
    const facts = await this.deps.facts.read(this.state, spec, product, commands, now, pending);
    const plan = planBatch(this.state, product.rules, facts, commands);
    const { results, toStore } = keyedAnswers(commands, plan.results, spec);
    this.deps.planned?.(pending ? 'ahead' : 'alone');
    const script = commitScript(spec, plan, [...product.commitSql(spec, plan), ...recordAnswersSql(toStore), ...adminCancelAuditsSql(this.symbol, commands, results)]);
    this.deps.facts.planned(plan.fills, now);
    for (const order of plan.orders) if (order.status !== 'open') this.state.orders.delete(order.id);
    const views = this.viewRequests.splice(0).map((request) => [request, this.currentView(request.maxLevels)] as const);
    const copies = plannedOrders(plan.orders);
    return {
      items,
      results: results.map((result) => asPlanned(result, copies.of)),
      script,
      uncommitted: uncommittedBatch(plan, toStore),
      ...(plan.seq !== plan.previousSeq
        ? { published: { instrument: this.symbol, seq: plan.seq, previousSeq: plan.previousSeq, fills: plan.fills, levels: plan.levels, orders: copies.orders } }
        : {}),
      views,
      prepareSeconds: (performance.now() - started) / 1000,
    };
  }

  /** Commits a planned batch; resolves to why it failed, or undefined once it is durable. */
  private commit(batch: PlannedBatch): Promise<unknown> {
    const started = performance.now();
    return commitPlan(this.deps.dataSource, batch.script).then(
      () => {
        const commitSeconds = (performance.now() - started) / 1000;
        this.deps.measured?.({ commands: batch.items.length, prepareSeconds: batch.prepareSeconds, commitSeconds });
        return undefined;
      },
      (failure: unknown) => failure ?? new Error('the order batch failed'),
    );
  }

  /** A batch is durable: its callers are answered, its views too, and it is published. */
  private finish(batch: PlannedBatch): void {
    batch.items.forEach((item, i) => {
      const result = batch.results[i];
      if (result instanceof DomainError) item.reject(result);
      else item.resolve(result);
    });
    for (const [request, view] of batch.views) request.resolve(view);
    if (batch.published) this.deps.published({ ...batch.published, committedAt: new Date() });
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
