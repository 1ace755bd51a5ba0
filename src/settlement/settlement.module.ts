import { Module } from '@nestjs/common';
import { DeliveriesModule } from '../deliveries/deliveries.module.js';
import { LedgerModule } from '../ledger/ledger.module.js';
import { MarketsModule } from '../markets/markets.module.js';
import { MeteringModule } from '../metering/metering.module.js';
import { ParticipantsModule } from '../participants/participants.module.js';
import { ProbesModule } from '../probes/probes.module.js';
import { AdminDeliveriesController } from './admin-deliveries.controller.js';
import { DeliveryReview } from './delivery-review.service.js';
import { DisputeRefunds } from './dispute-refunds.js';
import { SettlementReview } from './settlement-review.service.js';
import { CloseWindowsJob, PayoutsJob } from './settlement.jobs.js';
import { SettlementService } from './settlement.service.js';
import { SettlementsController } from './settlements.controller.js';

@Module({
  imports: [LedgerModule, DeliveriesModule, MeteringModule, ProbesModule, MarketsModule, ParticipantsModule],
  controllers: [SettlementsController, AdminDeliveriesController],
  // DisputeRefunds registers itself as metering's DisputeMoney handler.
  providers: [SettlementService, SettlementReview, DeliveryReview, DisputeRefunds, PayoutsJob, CloseWindowsJob],
  exports: [SettlementService, SettlementReview, DeliveryReview],
})
export class SettlementModule {}
