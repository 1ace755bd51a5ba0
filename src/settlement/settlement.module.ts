import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module.js';
import { ProbesModule } from '../probes/probes.module.js';
import { CloseWindowsJob, PayoutsJob } from './settlement.jobs.js';
import { SettlementService } from './settlement.service.js';
import { SettlementsController } from './settlements.controller.js';

@Module({
  imports: [LedgerModule, ProbesModule],
  controllers: [SettlementsController],
  providers: [SettlementService, PayoutsJob, CloseWindowsJob],
  exports: [SettlementService],
})
export class SettlementModule {}
