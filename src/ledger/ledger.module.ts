import { Module } from '@nestjs/common';
import { LedgerAuditService } from './ledger-audit.service.js';
import { LedgerInspector } from './ledger-inspector.js';
import { LedgerController } from './ledger.controller.js';
import { LedgerRepository } from './ledger.repository.js';
import { LedgerService } from './ledger.service.js';

@Module({
  controllers: [LedgerController],
  providers: [LedgerRepository, LedgerService, LedgerAuditService, LedgerInspector],
  exports: [LedgerService, LedgerRepository, LedgerAuditService, LedgerInspector],
})
export class LedgerModule {}
