import { Module } from '@nestjs/common';
import { MarketsModule } from '../../markets/markets.module.js';
import { ForwardListing } from './forward-listing.js';
import { ForwardSeriesController } from './forward-series.controller.js';
import { ListForwardContractsJob } from './forward-series.jobs.js';
import { ForwardSeriesService } from './forward-series.service.js';

/** Forward series and the worker's listing of their contracts (market-rules §6). */
@Module({
  imports: [MarketsModule],
  controllers: [ForwardSeriesController],
  providers: [ForwardSeriesService, ForwardListing, ListForwardContractsJob],
  exports: [ForwardSeriesService, ForwardListing],
})
export class ForwardSeriesModule {}
