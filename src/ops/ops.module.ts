import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module.js';
import { MarketDataModule } from '../market-data/market-data.module.js';
import { MarketsModule } from '../markets/markets.module.js';
import { MeteringModule } from '../metering/metering.module.js';
import { NodesModule } from '../nodes/nodes.module.js';
import { OrdersModule } from '../orders/orders.module.js';
import { ParticipantsModule } from '../participants/participants.module.js';
import { AuditPageController } from './audit/audit-page.controller.js';
import { DisputesPageController } from './disputes/disputes-page.controller.js';
import { DisputesPageService } from './disputes/disputes-page.service.js';
import { LedgerPageController } from './ledger/ledger-page.controller.js';
import { LedgerPageService } from './ledger/ledger-page.service.js';
import { OpsSessions } from './ops-session.js';
import { OverviewController } from './overview/overview.controller.js';
import { OverviewService } from './overview/overview.service.js';
import { ParticipantPageService } from './participants/participant-page.service.js';
import { ParticipantsPageController } from './participants/participants-page.controller.js';
import { SignInController } from './sign-in.controller.js';

/**
 * The ops console at /ops (docs/ops-console.md): server-rendered pages over the same services as
 * the admin API, one folder per page. Its HTTP plumbing (session, CSRF, views, assets, bull-board)
 * is registered by ops-http.ts on the API's Fastify.
 */
@Module({
  imports: [ParticipantsModule, MarketsModule, MarketDataModule, LedgerModule, OrdersModule, NodesModule, MeteringModule],
  controllers: [SignInController, OverviewController, ParticipantsPageController, AuditPageController, DisputesPageController, LedgerPageController],
  providers: [OpsSessions, OverviewService, ParticipantPageService, DisputesPageService, LedgerPageService],
  exports: [OpsSessions],
})
export class OpsModule {}
