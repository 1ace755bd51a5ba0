import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { DomainError, invalid, notFound } from '../common/domain-error.js';
import { decodeCursor, type Page, pageLimit, pageOf, type PageQuery } from '../platform/http/pagination.js';
import { type InstrumentSpec, instrumentSymbol } from '../markets/instrument-terms.js';
import { MarketsService } from '../markets/markets.service.js';
import { formatPrice, lotsToTokens } from '../markets/price.js';
import type { BookView, CommittedBatch, InstrumentWriter } from '../orders/instrument-writer.js';
import { OrderBooks } from '../orders/order-books.js';
import { candleWindow } from './candle-window.js';
import type { BookQuery, CandleList, CandlesQuery, IndexQuery, IndexView, OrderBookView, TickerView, TradeView } from './market-data.dto.js';
import { bookView, candleView, tickerView, tradeView } from './market-data.format.js';
import { MarketDataRepository } from './market-data.repository.js';

const DEFAULT_DEPTH = 50;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** How long a snapshot waits for a busy writer to commit before giving up with a 503. */
const COMMIT_WAIT_MS = 5_000;
/** How often a waiting snapshot re-checks PostgreSQL, in case the batch in flight rolled back. */
const RECHECK_MS = 100;

/**
 * Public market data of one process: books from the instrument writers' memory, trades, tickers
 * and candles from `fills`.
 *
 * A writer's book runs ahead of PostgreSQL while a batch is being committed (it matches first,
 * then commits), so `view()` may show a state that could still be rolled back. `committedView`
 * returns only views of a committed sequence, which is also what makes a stream snapshot line up
 * with the deltas published after it.
 */
@Injectable()
export class MarketDataService implements OnModuleDestroy {
  /** The last sequence published per book (published only after its commit). */
  private readonly published = new Map<string, number>();
  private readonly waiters = new Map<string, Set<(batch: CommittedBatch) => void>>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly books: OrderBooks,
    private readonly markets: MarketsService,
    private readonly repository: MarketDataRepository,
  ) {
    this.unsubscribe = books.onCommitted((batch) => {
      this.published.set(batch.instrument, batch.seq);
      const waiting = this.waiters.get(batch.instrument);
      this.waiters.delete(batch.instrument);
      waiting?.forEach((wake) => wake(batch));
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  instrument(symbol: string): Promise<InstrumentSpec> {
    return this.markets.requireInstrument(symbol);
  }

  /**
   * The book as of a committed sequence. An idle writer's memory is committed when its sequence
   * is the last one published, or the one PostgreSQL holds (read first). Otherwise a batch is in
   * flight: the view is taken the moment it is published, synchronously, before the writer can
   * start the next one; a batch that rolls back publishes nothing, hence the re-check.
   */
  async committedView(symbol: string, maxLevels?: number): Promise<BookView> {
    const writer = await this.books.writerFor(symbol);
    const quick = writer.view(maxLevels);
    if (this.published.get(symbol) === quick.seq) return quick;
    for (const deadline = Date.now() + COMMIT_WAIT_MS; Date.now() < deadline; ) {
      const durable = await this.repository.committedSeq(symbol);
      const view = writer.view(maxLevels);
      if (view.seq === durable || this.published.get(symbol) === view.seq) return view;
      const published = await this.nextCommittedView(symbol, writer, maxLevels);
      if (published) return published;
    }
    throw new DomainError('ORDER_BOOK_BUSY', `the ${symbol} book is busy; retry`, 'unavailable', { retryAfterSeconds: 1 });
  }

  async book(symbol: string, query: BookQuery): Promise<OrderBookView> {
    const spec = await this.instrument(symbol);
    return bookView(symbol, await this.committedView(symbol, query.depth ?? DEFAULT_DEPTH), spec);
  }

  async trades(symbol: string, query: PageQuery): Promise<Page<TradeView>> {
    const spec = await this.instrument(symbol);
    const limit = pageLimit(query);
    const cursor = decodeCursor(query.cursor, 2);
    const before = cursor && { seq: Number(cursor[0]), n: Number(cursor[1]) };
    if (before && !(Number.isSafeInteger(before.seq) && Number.isSafeInteger(before.n))) {
      throw invalid('INVALID_CURSOR', 'cursor is not a cursor this list returned');
    }
    const rows = await this.repository.trades(symbol, before, limit);
    return pageOf(rows, limit, (r) => [r.seq, r.n], (r) => tradeView(r, spec));
  }

  /** Last price, best bid and ask, and the last 24 h, all as of one committed book sequence. */
  async ticker(symbol: string, now = new Date()): Promise<TickerView> {
    const spec = await this.instrument(symbol);
    const top = await this.committedView(symbol, 1);
    const [last, day] = await Promise.all([
      this.repository.lastPrice(symbol, top.seq),
      this.repository.statsSince(symbol, new Date(now.getTime() - DAY_MS), top.seq),
    ]);
    return tickerView(symbol, spec, top, last, day);
  }

  async candles(symbol: string, query: CandlesQuery, now = new Date()): Promise<CandleList> {
    const spec = await this.instrument(symbol);
    const window = candleWindow(query.interval, query, now);
    const rows = await this.repository.candles(symbol, window.seconds, window.from, window.to, window.limit);
    return { instrument: symbol, interval: query.interval, items: rows.map((r) => candleView(r.time, r.stats, spec)) };
  }

  /** The view right after the book's next commit, or undefined if none comes within RECHECK_MS. */
  private nextCommittedView(symbol: string, writer: InstrumentWriter, maxLevels?: number): Promise<BookView | undefined> {
    return new Promise((resolve) => {
      const waiting = this.waiters.get(symbol) ?? new Set();
      this.waiters.set(symbol, waiting);
      const wake = () => {
        clearTimeout(timer);
        resolve(writer.view(maxLevels));
      };
      const timer = setTimeout(() => {
        waiting.delete(wake);
        resolve(undefined);
      }, RECHECK_MS);
      waiting.add(wake);
    });
  }

  /**
   * The spot index of a model class: the volume-weighted average price of its spot instrument's
   * trades in the last hour, else its last trade's price; with hourly VWAPs for history.
   */
  async index(modelClassId: string, query: IndexQuery, now = new Date()): Promise<IndexView> {
    const symbol = instrumentSymbol(modelClassId);
    const spec = await this.markets.instrument(symbol);
    if (!spec) throw notFound('INDEX_NOT_FOUND', `model class ${modelClassId} has no spot instrument`);
    const hours = query.hours ?? 24;
    const hourStart = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
    const [price, history] = await Promise.all([
      this.repository.indexPrice(symbol, new Date(now.getTime() - HOUR_MS)),
      this.repository.vwapBuckets(symbol, HOUR_MS / 1000, new Date(hourStart - (hours - 1) * HOUR_MS)),
    ]);
    return {
      modelClass: modelClassId,
      instrument: symbol,
      price: price ? formatPrice(price.priceTicks, spec) : null,
      method: price ? (price.method === 'vwap' ? 'vwap_1h' : 'last_trade') : null,
      asOf: now.toISOString(),
      history: history.map((h) => ({ time: h.time.toISOString(), price: formatPrice(h.vwapTicks, spec), volume: lotsToTokens(Number(h.lots), spec) })),
    };
  }
}
