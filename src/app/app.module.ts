import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { AuditModule } from '../platform/audit/audit-trail.js';
import type { AppConfig } from '../platform/config/app-config.js';
import { ClockModule } from '../platform/clock/clock.module.js';
import { ConfigModule } from '../platform/config/config.module.js';
import { DatabaseModule } from './database.module.js';
import { DeliveriesModule } from '../deliveries/deliveries.module.js';
import { ForwardsModule } from '../forwards/forwards.module.js';
import { ForwardSeriesModule } from '../forwards/series/forward-series.module.js';
import { FundingModule } from '../funding/funding.module.js';
import { GlobalExceptionFilter } from '../platform/http/exception.filter.js';
import { RateLimitGuard } from '../platform/http/rate-limit.guard.js';
import { RateLimitModule } from '../platform/http/rate-limit.module.js';
import { createValidationPipe } from '../platform/http/validation.js';
import { IdempotencyModule } from '../platform/idempotency/idempotency.module.js';
import { JobsModule } from '../platform/jobs/jobs.module.js';
import { LedgerModule } from '../ledger/ledger.module.js';
import { MarketDataModule } from '../market-data/market-data.module.js';
import { MarketsModule } from '../markets/markets.module.js';
import { MeteringModule } from '../metering/metering.module.js';
import { NodesModule } from '../nodes/nodes.module.js';
import { OrdersModule } from '../orders/orders.module.js';
import { OpsModule } from '../ops/ops.module.js';
import { ObservabilityModule } from '../platform/observability/observability.module.js';
import { AuthGuard } from '../participants/auth.guard.js';
import { ParticipantsModule } from '../participants/participants.module.js';
import { ProbesModule } from '../probes/probes.module.js';
import { RedisModule } from '../platform/redis/redis.module.js';
import { SettlementModule } from '../settlement/settlement.module.js';
import { ScorecardsModule } from '../scorecards/scorecards.module.js';
import { HealthController } from './health.controller.js';

/**
 * The whole service. The same module boots both roles: the api role serves HTTP, the worker role
 * boots it as an application context (no HTTP) and JobWorkers starts the BullMQ workers.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        ClockModule,
        DatabaseModule,
        RedisModule,
        ObservabilityModule,
        JobsModule,
        AuditModule,
        IdempotencyModule,
        RateLimitModule,
        LedgerModule,
        ParticipantsModule,
        FundingModule,
        MarketsModule,
        NodesModule,
        OrdersModule,
        ForwardsModule,
        ForwardSeriesModule,
        MarketDataModule,
        ProbesModule,
        DeliveriesModule,
        SettlementModule,
        MeteringModule,
        ScorecardsModule,
        OpsModule,
      ],
      // Readiness of the whole service (database, Redis, queues): composed here, above the platform's pieces.
      controllers: [HealthController],
      providers: [
        // Guards run in this order: who is calling, then how often.
        { provide: APP_GUARD, useExisting: AuthGuard },
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: APP_FILTER, useClass: GlobalExceptionFilter },
        { provide: APP_PIPE, useFactory: createValidationPipe },
      ],
    };
  }
}
