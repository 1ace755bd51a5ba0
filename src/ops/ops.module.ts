import { Module } from '@nestjs/common';
import { ForwardsModule } from '../forwards/forwards.module.js';
import { FundingModule } from '../funding/funding.module.js';
import { LedgerModule } from '../ledger/ledger.module.js';
import { MarketDataModule } from '../market-data/market-data.module.js';
import { MarketsModule } from '../markets/markets.module.js';
import { MeteringModule } from '../metering/metering.module.js';
import { NodesModule } from '../nodes/nodes.module.js';
import { OrdersModule } from '../orders/orders.module.js';
import { ParticipantsModule } from '../participants/participants.module.js';
import { SettlementModule } from '../settlement/settlement.module.js';
import { ScorecardsModule } from '../scorecards/scorecards.module.js';
import { ScorecardsPageController } from './scorecards/scorecards-page.controller.js';
import { DeliveriesPageController } from './deliveries/deliveries-page.controller.js';
import { SettlementsPageController } from './settlements/settlements-page.controller.js';
import { ForwardsPageController } from './forwards/forwards-page.controller.js';
import { ForwardsPageService } from './forwards/forwards-page.service.js';
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
  imports: [ParticipantsModule, MarketsModule, MarketDataModule, LedgerModule, ForwardsModule, FundingModule, OrdersModule, NodesModule, MeteringModule, SettlementModule, ScorecardsModule],
  controllers: [SignInController, OverviewController, ForwardsPageController, ParticipantsPageController, AuditPageController, DisputesPageController, LedgerPageController, SettlementsPageController, DeliveriesPageController, ScorecardsPageController],
  providers: [OpsSessions, OverviewService, ForwardsPageService, ParticipantPageService, DisputesPageService, LedgerPageService],
  exports: [OpsSessions],
})
export class OpsModule {}
