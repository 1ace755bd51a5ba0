import { Module } from '@nestjs/common';
import { DeliveryKeysModule } from '../delivery-keys/delivery-keys.module.js';
import { SettlementModule } from '../settlement/settlement.module.js';
import { DisputesService } from './disputes.service.js';
import { MeteringController } from './metering.controller.js';
import { MeteringService } from './metering.service.js';
import { CounterScrapeJob, NodeAuditJob } from './node-observers.js';
import { CheckBuyerReportsJob, VerifyBatchJob } from './verification.service.js';

@Module({
  imports: [SettlementModule, DeliveryKeysModule],
  controllers: [MeteringController],
  providers: [MeteringService, DisputesService, VerifyBatchJob, CheckBuyerReportsJob, CounterScrapeJob, NodeAuditJob],
  exports: [MeteringService, NodeAuditJob, CounterScrapeJob],
})
export class MeteringModule {}
