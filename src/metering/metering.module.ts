import { Module } from '@nestjs/common';
import { DeliveriesModule } from '../deliveries/deliveries.module.js';
import { DeliveryKeysModule } from '../delivery-keys/delivery-keys.module.js';
import { DisputeRefundsModule } from '../settlement/dispute-refunds.js';
import { DisputeEvidenceRepository } from './dispute-evidence.js';
import { DisputesRepository } from './disputes.repository.js';
import { DisputesService } from './disputes.service.js';
import { MeteringController } from './metering.controller.js';
import { MeteringService } from './metering.service.js';
import { CounterScrapeJob, NodeAuditJob } from './node-observers.js';
import { CheckBuyerReportsJob, VerifyBatchJob } from './verification.service.js';
import { VerifiedUsageRepository } from './verified-usage.repository.js';

@Module({
  // DisputeRefunds: the money of a resolution for the buyer (settlement's, but not the worker's: no cycle).
  imports: [DeliveriesModule, DeliveryKeysModule, DisputeRefundsModule],
  controllers: [MeteringController],
  providers: [MeteringService, DisputesService, DisputesRepository, DisputeEvidenceRepository, VerifiedUsageRepository, VerifyBatchJob, CheckBuyerReportsJob, CounterScrapeJob, NodeAuditJob],
  exports: [MeteringService, DisputesService, VerifiedUsageRepository, NodeAuditJob, CounterScrapeJob],
})
export class MeteringModule {}
