import { Controller, Get, Query, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CANDLE_INTERVALS, type CandleInterval } from '../../market-data/candle-window.js';
import { Public } from '../../platform/http/auth.js';
import { OpsExceptionFilter, renderPage } from '../ops-page.js';
import { OverviewService } from './overview.service.js';

export class OverviewQuery {
  @IsOptional() @IsString() @MaxLength(100)
  market?: string;

  @IsOptional() @IsIn(Object.keys(CANDLE_INTERVALS), { message: `interval must be one of: ${Object.keys(CANDLE_INTERVALS).join(', ')}` })
  interval?: CandleInterval;
}

/** The overview: markets, the spot index, a market's candles, queues, and the ledger's health. */
@ApiExcludeController()
@Public() // the console's own session guards it (ops-http.ts)
@UseFilters(OpsExceptionFilter)
@Controller('ops')
export class OverviewController {
  constructor(private readonly overview: OverviewService) {}

  @Get()
  async page(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Query() query: OverviewQuery) {
    const overview = await this.overview.overview(query.market, query.interval ?? '5m');
    return renderPage(request, reply, 'overview', { title: 'Overview', ...overview, intervals: Object.keys(CANDLE_INTERVALS) });
  }

  /** The queue and ledger panel alone, refreshed in place by htmx. */
  @Get('overview/health')
  async health(@Res() reply: FastifyReply) {
    return reply.view('partials/health', await this.overview.health());
  }
}
