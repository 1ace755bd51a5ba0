import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module.js';
import { AdminParticipantsController } from './admin-participants.controller.js';
import { FailedAuthLimiter } from '../platform/http/failed-auth-limiter.js';
import { ApiKeyAuthenticator } from './api-key-authenticator.js';
import { AuthGuard } from './auth.guard.js';
import { ParticipantsController } from './participants.controller.js';
import { ParticipantsService } from './participants.service.js';
import { SuspensionEffects } from './suspension-effects.js';

@Module({
  imports: [LedgerModule],
  controllers: [ParticipantsController, AdminParticipantsController],
  providers: [ParticipantsService, ApiKeyAuthenticator, FailedAuthLimiter, AuthGuard, SuspensionEffects],
  exports: [ApiKeyAuthenticator, AuthGuard, ParticipantsService, SuspensionEffects],
})
export class ParticipantsModule {}
