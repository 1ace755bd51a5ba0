import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module.js';
import { FundingController } from './funding.controller.js';
import { FundingService } from './funding.service.js';

@Module({ imports: [LedgerModule], controllers: [FundingController], providers: [FundingService], exports: [FundingService] })
export class FundingModule {}
