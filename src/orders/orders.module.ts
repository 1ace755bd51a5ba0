import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module.js';
import { MarketsModule } from '../markets/markets.module.js';
import { NodesModule } from '../nodes/nodes.module.js';
import { ParticipantsModule } from '../participants/participants.module.js';
import { DeadManSwitches } from './dead-man-switches.js';
import { BookGateway } from './book-gateway.js';
import { BookOwnership } from './book-ownership.js';
import { BookRelay } from './book-relay.js';
import { OrderExpiryJob } from './order-expiry.job.js';
import { OrdersController } from './orders.controller.js';
import { OrdersService } from './orders.service.js';
import { OrderEntry } from './order-entry.js';
import { OrderBatches } from './order-batches.js';
import { ProductCatalog } from './products.js';
import { RedisBookEvents } from './redis-book-events.js';

@Module({
  imports: [LedgerModule, MarketsModule, NodesModule, ParticipantsModule],
  controllers: [OrdersController],
  providers: [ProductCatalog, BookOwnership, BookRelay, RedisBookEvents, BookGateway, OrderEntry, OrderBatches, OrdersService, DeadManSwitches, OrderExpiryJob],
  exports: [BookGateway, ProductCatalog, OrderEntry, OrdersService],
})
export class OrdersModule {}
