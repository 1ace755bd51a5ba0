import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module.js';
import { ApiKeyAuthenticator } from './api-key-authenticator.js';
import { AuthGuard } from './auth.guard.js';
import { ParticipantsController } from './participants.controller.js';
import { ParticipantsService } from './participants.service.js';

@Module({
  imports: [LedgerModule],
  controllers: [ParticipantsController],
  providers: [ParticipantsService, ApiKeyAuthenticator, AuthGuard],
  exports: [ApiKeyAuthenticator, AuthGuard, ParticipantsService],
})
export class ParticipantsModule {}
