import { formatUsd } from '../common/money.js';
import { formatPrice, lotsToTokens, type PriceGrid } from '../markets/price.js';
import type { BookView, CommittedBatch } from '../orders/book-events.js';
import type { BookLevel, CandleView, OrderBookView, TickerView, TradeView } from './market-data.dto.js';

/**
 * Engine units (ticks, lots, micro-USD) to the API's (decimal strings, tokens). Pure: REST and the
 * stream format through here, so a level, trade or ticker reads the same on both.
 */

/** A committed fill, in engine units. */
export type FillRecord = CommittedBatch['fills'][number];

interface Level {
  readonly priceTicks: number;
  readonly quantity: number;
  readonly orderCount: number;
}

export const levelView = (level: Level, grid: PriceGrid): BookLevel => ({
  price: formatPrice(level.priceTicks, grid),
  quantity: lotsToTokens(level.quantity, grid),
  orders: level.orderCount,
});

export const bookView = (instrument: string, view: BookView, grid: PriceGrid): OrderBookView => ({
  instrument,
  sequence: view.seq,
  bids: view.bids.map((l) => levelView(l, grid)),
  asks: view.asks.map((l) => levelView(l, grid)),
});

/** A committed batch's level changes: absolute quantities per changed level, 0 for a level gone. */
export interface BookDelta {
  readonly seq: number;
  readonly previousSeq: number;
  readonly bids: BookLevel[];
  readonly asks: BookLevel[];
}

export const bookDelta = (batch: CommittedBatch, grid: PriceGrid): BookDelta => ({
  seq: batch.seq,
  previousSeq: batch.previousSeq,
  bids: batch.levels.filter((l) => l.side === 'buy').map((l) => levelView(l, grid)),
  asks: batch.levels.filter((l) => l.side === 'sell').map((l) => levelView(l, grid)),
});

/** A public trade: never who traded. */
export const tradeView = (fill: Pick<FillRecord, 'id' | 'priceTicks' | 'lots' | 'takerSide' | 'createdAt'>, grid: PriceGrid): TradeView => ({
  id: fill.id,
  price: formatPrice(fill.priceTicks, grid),
  quantity: lotsToTokens(fill.lots, grid),
  takerSide: fill.takerSide,
  time: fill.createdAt.toISOString(),
});

/** A difference of two prices, with its sign: formatPrice writes non-negative prices only. */
export const signedPrice = (ticks: number, grid: PriceGrid): string => (ticks < 0 ? `-${formatPrice(-ticks, grid)}` : formatPrice(ticks, grid));

/** Trades of a time range, aggregated: what a ticker's 24 h figures and a candle are made of. */
export interface TradeStats {
  readonly trades: number;
  readonly lots: bigint;
  readonly notional: bigint;
  /** Absent when there was no trade. */
  readonly prices?: { readonly open: number; readonly high: number; readonly low: number; readonly close: number };
}

export function tickerView(instrument: string, grid: PriceGrid, top: BookView, lastPriceTicks: number | undefined, day: TradeStats): TickerView {
  const price = (ticks: number | undefined) => (ticks === undefined ? null : formatPrice(ticks, grid));
  return {
    instrument,
    sequence: top.seq,
    lastPrice: price(lastPriceTicks),
    bestBid: top.bids[0] ? levelView(top.bids[0], grid) : null,
    bestAsk: top.asks[0] ? levelView(top.asks[0], grid) : null,
    open24h: price(day.prices?.open),
    high24h: price(day.prices?.high),
    low24h: price(day.prices?.low),
    change24h: day.prices ? signedPrice(day.prices.close - day.prices.open, grid) : null,
    volume24h: lotsToTokens(Number(day.lots), grid),
    notional24h: formatUsd(day.notional),
    trades24h: day.trades,
  };
}

export const candleView = (time: Date, stats: Required<TradeStats>, grid: PriceGrid): CandleView => ({
  time: time.toISOString(),
  open: formatPrice(stats.prices.open, grid),
  high: formatPrice(stats.prices.high, grid),
  low: formatPrice(stats.prices.low, grid),
  close: formatPrice(stats.prices.close, grid),
  volume: lotsToTokens(Number(stats.lots), grid),
  notional: formatUsd(stats.notional),
  trades: stats.trades,
});

/** The owner's view of an order a batch changed (its fills travel on the fills channel), and of a fill. */
export { orderSummary as ownOrderView, fillView as ownFillView } from '../orders/order-views.js';
