import { Module } from '@nestjs/common';
import { DeliveryKeysModule } from '../delivery-keys/delivery-keys.module.js';
import { MarketsModule } from '../markets/markets.module.js';
import { DeliveriesController } from './deliveries.controller.js';
import { DeliveriesRepository } from './deliveries.repository.js';
import { DeliveriesService } from './deliveries.service.js';

@Module({
  imports: [MarketsModule, DeliveryKeysModule],
  controllers: [DeliveriesController],
  providers: [DeliveriesService, DeliveriesRepository],
  exports: [DeliveriesService, DeliveriesRepository],
})
export class DeliveriesModule {}
