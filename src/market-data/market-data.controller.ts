import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { PageQuery } from '../platform/http/pagination.js';
import { modelClassIdParam, symbolParam } from '../markets/markets.params.js';
import { Public } from '../platform/http/auth.js';
import { BookQuery, CandleList, CandlesQuery, IndexQuery, IndexView, OrderBookView, TickerView, TradePage } from './market-data.dto.js';
import { MarketDataService } from './market-data.service.js';

/** Public market data of one instrument; the stream (`WS /v1/stream`) publishes the same shapes. */
@ApiTags('market data')
@Controller('v1/markets/:instrument')
export class MarketDataController {
  constructor(private readonly marketData: MarketDataService) {}

  @Get('book')
  @Public()
  @ApiOperation({ summary: 'Aggregated price levels, as of the committed book sequence' })
  @ApiOkResponse({ type: OrderBookView })
  book(@symbolParam('instrument') instrument: string, @Query() query: BookQuery): Promise<OrderBookView> {
    return this.marketData.book(instrument, query);
  }

  @Get('trades')
  @Public()
  @ApiOperation({ summary: 'Public trades, newest first' })
  @ApiOkResponse({ type: TradePage })
  trades(@symbolParam('instrument') instrument: string, @Query() query: PageQuery): Promise<TradePage> {
    return this.marketData.trades(instrument, query);
  }

  @Get('ticker')
  @Public()
  @ApiOperation({ summary: 'Last price, best bid and ask, and the last 24 h' })
  @ApiOkResponse({ type: TickerView })
  ticker(@symbolParam('instrument') instrument: string): Promise<TickerView> {
    return this.marketData.ticker(instrument);
  }

  @Get('candles')
  @Public()
  @ApiOperation({ summary: 'OHLCV candles, UTC-aligned, oldest first, at most 1000' })
  @ApiOkResponse({ type: CandleList })
  candles(@symbolParam('instrument') instrument: string, @Query() query: CandlesQuery): Promise<CandleList> {
    return this.marketData.candles(instrument, query);
  }
}

/** The spot index of a model class: the reference forwards mark against (market-rules §6). */
@ApiTags('market data')
@Controller('v1/index')
export class IndexController {
  constructor(private readonly marketData: MarketDataService) {}

  @Get(':modelClass')
  @Public()
  @ApiOperation({ summary: "Spot index price (the last hour's VWAP of the spot instrument, else its last trade) and hourly history" })
  @ApiOkResponse({ type: IndexView })
  index(@modelClassIdParam('modelClass') modelClass: string, @Query() query: IndexQuery): Promise<IndexView> {
    return this.marketData.index(modelClass, query);
  }
}
