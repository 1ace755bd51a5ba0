import { Module } from '@nestjs/common';
import { DeliveriesModule } from '../deliveries/deliveries.module.js';
import { DeliveryKeysModule } from '../delivery-keys/delivery-keys.module.js';
import { DisputeEvidenceRepository } from './dispute-evidence.js';
import { DisputeMoney } from './dispute-money.js';
import { DisputesRepository } from './disputes.repository.js';
import { DisputesService } from './disputes.service.js';
import { MeteringController } from './metering.controller.js';
import { ingestThrottleProvider, MeteringService } from './metering.service.js';
import { NodeAuditJob } from './node-audits.js';
import { CounterScrapeJob } from './counter-scrapes.js';
import { CheckBuyerReportsJob, VerifyBatchJob } from './verification.service.js';
import { VerifiedUsageRepository } from './verified-usage.repository.js';

@Module({
  imports: [DeliveriesModule, DeliveryKeysModule],
  controllers: [MeteringController],
  providers: [MeteringService, ingestThrottleProvider, DisputeMoney, DisputesService, DisputesRepository, DisputeEvidenceRepository, VerifiedUsageRepository, VerifyBatchJob, CheckBuyerReportsJob, CounterScrapeJob, NodeAuditJob],
  exports: [MeteringService, DisputeMoney, DisputesService, VerifiedUsageRepository, NodeAuditJob, CounterScrapeJob],
})
export class MeteringModule {}
