import { Injectable } from '@nestjs/common';
import { invalid, notFound } from '../common/domain-error.js';
import { decodeCursor, type Page, pageLimit, pageOf, type PageQuery } from '../platform/http/pagination.js';
import { type InstrumentSpec, instrumentSymbol } from '../markets/instrument-terms.js';
import { MarketsService } from '../markets/markets.service.js';
import { formatPrice, lotsToTokens } from '../markets/price.js';
import type { BookView } from '../orders/book-events.js';
import { BookGateway } from '../orders/book-gateway.js';
import { candleWindow } from './candle-window.js';
import type { BookQuery, CandleList, CandlesQuery, IndexQuery, IndexView, OrderBookView, TickerView, TradeView } from './market-data.dto.js';
import { bookView, candleView, tickerView, tradeView } from './market-data.format.js';
import { MarketDataRepository } from './market-data.repository.js';

const DEFAULT_DEPTH = 50;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/**
 * Public market data: books from their owners' memory as of a committed sequence (through the
 * book gateway, whichever process owns the book), trades, tickers and candles from `fills`.
 */
@Injectable()
export class MarketDataService {
  constructor(
    private readonly books: BookGateway,
    private readonly markets: MarketsService,
    private readonly repository: MarketDataRepository,
  ) {}

  instrument(symbol: string): Promise<InstrumentSpec> {
    return this.markets.requireInstrument(symbol);
  }

  /**
   * The book as of a committed sequence: its owner answers between batches, never while one is
   * being committed, which is also what makes a stream snapshot line up with the deltas after it.
   */
  committedView(symbol: string, maxLevels?: number): Promise<BookView> {
    return this.books.view(symbol, maxLevels);
  }

  async book(symbol: string, query: BookQuery): Promise<OrderBookView> {
    const spec = await this.instrument(symbol);
    return bookView(symbol, await this.committedView(symbol, query.depth ?? DEFAULT_DEPTH), spec);
  }

  async trades(symbol: string, query: PageQuery): Promise<Page<TradeView>> {
    const spec = await this.instrument(symbol);
    const limit = pageLimit(query);
    const cursor = decodeCursor(query.cursor, ['bigint', 'bigint']);
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
