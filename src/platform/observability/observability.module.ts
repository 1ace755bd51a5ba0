import { Global, Module } from '@nestjs/common';
import { ForegroundLatency } from './foreground-latency.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsService } from './metrics.service.js';

@Global()
@Module({ controllers: [MetricsController], providers: [MetricsService, ForegroundLatency], exports: [MetricsService, ForegroundLatency] })
export class ObservabilityModule {}
