import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module.js';
import { MarketsModule } from '../markets/markets.module.js';
import { NodesModule } from '../nodes/nodes.module.js';
import { OrdersModule } from '../orders/orders.module.js';
import { MarkAndExpireJob } from './forward-jobs.js';
import { ForwardOversight } from './forward-oversight.js';
import { ForwardProduct } from './forward-product.js';
import { ForwardsController } from './forwards.controller.js';
import { ForwardsService } from './forwards.service.js';
import { MarkFactsReader } from './mark-facts.js';

/** Forwards (market-rules §6): the product on the order path, positions and margin, marks and expiry. */
@Module({
  imports: [OrdersModule, LedgerModule, MarketsModule, NodesModule],
  controllers: [ForwardsController],
  providers: [ForwardProduct, MarkFactsReader, ForwardsService, ForwardOversight, MarkAndExpireJob],
  exports: [ForwardsService, ForwardOversight],
})
export class ForwardsModule {}
