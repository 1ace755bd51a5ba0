import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, Matches, Max, Min } from 'class-validator';
import { PageOf } from '../platform/http/pagination.js';
import { CANDLE_INTERVALS, type CandleInterval, MAX_CANDLES } from './candle-window.js';

export const MAX_BOOK_DEPTH = 1000;
const SIDES = ['buy', 'sell'] as const;
/** A date, or a date and time with its zone: a time without one would be read in the server's zone. */
const ZONED = /^\d{4}-\d{2}-\d{2}(T.*([Zz]|[+-]\d{2}(:?\d{2})?))?$/;

export class BookQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_BOOK_DEPTH, default: 50, description: 'Price levels per side' })
  @IsOptional() @Type(() => Number) @IsInt({ message: 'depth must be an integer' }) @Min(1) @Max(MAX_BOOK_DEPTH)
  depth?: number;
}

export class CandlesQuery {
  @ApiProperty({ enum: Object.keys(CANDLE_INTERVALS) })
  @IsIn(Object.keys(CANDLE_INTERVALS), { message: `interval must be one of: ${Object.keys(CANDLE_INTERVALS).join(', ')}` })
  interval: CandleInterval;

  @ApiPropertyOptional({ example: '2026-11-26T00:00:00Z', description: 'First bucket: the one holding this instant (UTC-aligned). Default: `limit` buckets before `to`' })
  @IsOptional() @IsISO8601({ strict: true }, { message: 'from must be an ISO 8601 timestamp' })
  @Matches(ZONED, { message: 'from must be an ISO 8601 timestamp with a time zone' })
  from?: string;

  @ApiPropertyOptional({ example: '2026-11-27T00:00:00Z', description: 'Exclusive end. Default: now' })
  @IsOptional() @IsISO8601({ strict: true }, { message: 'to must be an ISO 8601 timestamp' })
  @Matches(ZONED, { message: 'to must be an ISO 8601 timestamp with a time zone' })
  to?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_CANDLES, default: MAX_CANDLES })
  @IsOptional() @Type(() => Number) @IsInt({ message: 'limit must be an integer' }) @Min(1) @Max(MAX_CANDLES)
  limit?: number;
}

export class BookLevel {
  @ApiProperty({ example: '0.450' }) price: string;
  @ApiProperty({ example: 2_000_000, description: 'Tokens resting at this price; 0 in a stream delta: the level is gone' }) quantity: number;
  @ApiProperty({ example: 3, description: 'Orders resting at this price' }) orders: number;
}

export class OrderBookView {
  @ApiProperty({ example: 'LLAMA-3.1-70B-INSTRUCT-SPOT' }) instrument: string;
  @ApiProperty({ example: 1042, description: 'The book sequence this view is exactly as of (committed)' }) sequence: number;
  @ApiProperty({ type: BookLevel, isArray: true, description: 'Best (highest) first' }) bids: BookLevel[];
  @ApiProperty({ type: BookLevel, isArray: true, description: 'Best (lowest) first' }) asks: BookLevel[];
}

export class TradeView {
  @ApiProperty({ example: 'LLAMA-3.1-70B-INSTRUCT-SPOT:1042:0' }) id: string;
  @ApiProperty({ example: '0.450' }) price: string;
  @ApiProperty({ example: 1_000_000 }) quantity: number;
  @ApiProperty({ enum: SIDES, description: 'The side of the incoming (aggressing) order' }) takerSide: 'buy' | 'sell';
  @ApiProperty({ example: '2026-11-26T12:00:00.000Z' }) time: string;
}

export class TradePage extends PageOf(TradeView) {}

export class TickerView {
  @ApiProperty() instrument: string;
  @ApiProperty({ example: 1042, description: 'The book sequence the figures are as of' }) sequence: number;
  @ApiProperty({ nullable: true, type: String, example: '0.450', description: 'Price of the last trade ever' }) lastPrice: string | null;
  @ApiProperty({ nullable: true, type: BookLevel }) bestBid: BookLevel | null;
  @ApiProperty({ nullable: true, type: BookLevel }) bestAsk: BookLevel | null;
  @ApiProperty({ nullable: true, type: String, description: 'First trade price of the last 24 h' }) open24h: string | null;
  @ApiProperty({ nullable: true, type: String }) high24h: string | null;
  @ApiProperty({ nullable: true, type: String }) low24h: string | null;
  @ApiProperty({ nullable: true, type: String, example: '-0.010', description: 'Last minus open over the last 24 h, signed' }) change24h: string | null;
  @ApiProperty({ example: 12_000_000, description: 'Tokens traded in the last 24 h' }) volume24h: number;
  @ApiProperty({ example: '5.400000', description: 'USD notional traded in the last 24 h' }) notional24h: string;
  @ApiProperty({ example: 7 }) trades24h: number;
}

export class CandleView {
  @ApiProperty({ example: '2026-11-26T12:00:00.000Z', description: 'Bucket start, UTC-aligned' }) time: string;
  @ApiProperty({ example: '0.450' }) open: string;
  @ApiProperty({ example: '0.470' }) high: string;
  @ApiProperty({ example: '0.440' }) low: string;
  @ApiProperty({ example: '0.460' }) close: string;
  @ApiProperty({ example: 3_000_000, description: 'Tokens' }) volume: number;
  @ApiProperty({ example: '1.380000', description: 'USD' }) notional: string;
  @ApiProperty({ example: 4 }) trades: number;
}

export class CandleList {
  @ApiProperty() instrument: string;
  @ApiProperty({ enum: Object.keys(CANDLE_INTERVALS) }) interval: string;
  @ApiProperty({ type: CandleView, isArray: true, description: 'Oldest first; buckets without trades are absent' }) items: CandleView[];
}

export class IndexQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 168, default: 24, description: 'Hours of hourly history' })
  @IsOptional() @Type(() => Number) @IsInt({ message: 'hours must be an integer' }) @Min(1) @Max(168)
  hours?: number;
}

export class IndexPoint {
  @ApiProperty({ description: 'Start of the hour (UTC)' }) time: string;
  @ApiProperty({ example: '0.450', description: "Volume-weighted average price of the hour's spot trades" }) price: string;
  @ApiProperty({ example: 12_000_000, description: 'Tokens traded in the hour' }) volume: number;
}

export class IndexView {
  @ApiProperty({ example: 'llama-3.1-70b-instruct' }) modelClass: string;
  @ApiProperty({ example: 'LLAMA-3.1-70B-INSTRUCT-SPOT' }) instrument: string;
  @ApiProperty({ nullable: true, type: String, example: '0.450', description: 'The spot index: null before the first spot trade' }) price: string | null;
  @ApiProperty({ nullable: true, enum: ['vwap_1h', 'last_trade'], description: "How the price was made: the last hour's VWAP, else the last trade" })
  method: 'vwap_1h' | 'last_trade' | null;
  @ApiProperty() asOf: string;
  @ApiProperty({ type: IndexPoint, isArray: true, description: 'Hourly VWAPs, oldest first; hours without trades are absent' }) history: IndexPoint[];
}
