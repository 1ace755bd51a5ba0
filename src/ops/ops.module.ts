import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module.js';
import { MarketDataModule } from '../market-data/market-data.module.js';
import { MarketsModule } from '../markets/markets.module.js';
import { ParticipantsModule } from '../participants/participants.module.js';
import { OpsSessions } from './ops-session.js';
import { OverviewController } from './overview/overview.controller.js';
import { OverviewService } from './overview/overview.service.js';
import { SignInController } from './sign-in.controller.js';

/**
 * The ops console at /ops (docs/ops-console.md): server-rendered pages over the same services as
 * the admin API, one folder per page. Its HTTP plumbing (session, CSRF, views, assets, bull-board)
 * is registered by ops-http.ts on the API's Fastify.
 */
@Module({
  imports: [ParticipantsModule, MarketsModule, MarketDataModule, LedgerModule],
  controllers: [SignInController, OverviewController],
  providers: [OpsSessions, OverviewService],
  exports: [OpsSessions],
})
export class OpsModule {}
