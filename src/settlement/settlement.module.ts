import { Module } from '@nestjs/common';
import { DeliveriesModule } from '../deliveries/deliveries.module.js';
import { LedgerModule } from '../ledger/ledger.module.js';
import { MeteringModule } from '../metering/metering.module.js';
import { ProbesModule } from '../probes/probes.module.js';
import { CloseWindowsJob, PayoutsJob } from './settlement.jobs.js';
import { SettlementService } from './settlement.service.js';
import { SettlementsController } from './settlements.controller.js';

@Module({
  imports: [LedgerModule, DeliveriesModule, MeteringModule, ProbesModule],
  controllers: [SettlementsController],
  providers: [SettlementService, PayoutsJob, CloseWindowsJob],
  exports: [SettlementService],
})
export class SettlementModule {}
