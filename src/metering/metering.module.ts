import { Module } from '@nestjs/common';
import { DeliveriesModule } from '../deliveries/deliveries.module.js';
import { DeliveryKeysModule } from '../delivery-keys/delivery-keys.module.js';
import { DisputesRepository } from './disputes.repository.js';
import { DisputesService } from './disputes.service.js';
import { MeteringController } from './metering.controller.js';
import { MeteringService } from './metering.service.js';
import { CounterScrapeJob, NodeAuditJob } from './node-observers.js';
import { CheckBuyerReportsJob, VerifyBatchJob } from './verification.service.js';
import { VerifiedUsageRepository } from './verified-usage.repository.js';

@Module({
  imports: [DeliveriesModule, DeliveryKeysModule],
  controllers: [MeteringController],
  providers: [MeteringService, DisputesService, DisputesRepository, VerifiedUsageRepository, VerifyBatchJob, CheckBuyerReportsJob, CounterScrapeJob, NodeAuditJob],
  exports: [MeteringService, VerifiedUsageRepository, NodeAuditJob, CounterScrapeJob],
})
export class MeteringModule {}
