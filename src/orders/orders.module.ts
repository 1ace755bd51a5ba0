import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module.js';
import { MarketsModule } from '../markets/markets.module.js';
import { NodesModule } from '../nodes/nodes.module.js';
import { DeadManSwitches } from './dead-man-switches.js';
import { OrderBooks } from './order-books.js';
import { OrderExpiryJob } from './order-expiry.job.js';
import { OrdersController } from './orders.controller.js';
import { OrdersService } from './orders.service.js';

@Module({
  imports: [LedgerModule, MarketsModule, NodesModule],
  controllers: [OrdersController],
  providers: [OrderBooks, OrdersService, DeadManSwitches, OrderExpiryJob],
  exports: [OrderBooks],
})
export class OrdersModule {}
