import { Module } from '@nestjs/common';
import { MarketsModule } from '../markets/markets.module.js';
import { OrdersModule } from '../orders/orders.module.js';
import { ParticipantsModule } from '../participants/participants.module.js';
import { IndexController, MarketDataController } from './market-data.controller.js';
import { MarketDataRepository } from './market-data.repository.js';
import { MarketDataService } from './market-data.service.js';
import { StreamGateway } from './stream.gateway.js';
import { StreamHub } from './stream-hub.js';
import { StreamOrderEntry } from './stream-order-entry.js';

/** Public market data over REST and the `WS /v1/stream` stream, which also takes orders (docs/market-data.md). */
@Module({
  imports: [OrdersModule, MarketsModule, ParticipantsModule],
  controllers: [MarketDataController, IndexController],
  providers: [MarketDataRepository, MarketDataService, StreamHub, StreamOrderEntry, StreamGateway],
  exports: [MarketDataService],
})
export class MarketDataModule {}
