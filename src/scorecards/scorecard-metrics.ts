import { Injectable, type OnModuleInit } from '@nestjs/common';
import { MetricsService } from '../platform/observability/metrics.service.js';
import { type Scorecard, WINDOW_NAMES, type WindowName } from './core/index.js';
import { ScorecardsService } from './scorecards.service.js';

/** How long one read of the market's scorecards serves scrapes: a 30-day read is not free. */
const FRESH_MS = 15_000;

/**
 * The market as a whole per model class, for Prometheus (docs/scorecards.md): the scorecards'
 * figures over every provider's nodes, per window. Read from the fold's buckets when scraped, at
 * most every 15 s. Money and ratios are exact decimal strings on the API; here they become
 * Prometheus' floats, for graphs only.
 */
@Injectable()
export class ScorecardMetrics implements OnModuleInit {
  private cached: { at: number; figures: Map<WindowName, Map<string, Scorecard>> } | undefined;

  constructor(
    private readonly metrics: MetricsService,
    private readonly scorecards: ScorecardsService,
  ) {}

  onModuleInit(): void {
    const figure = (name: string, help: string, value: (s: Scorecard) => number | string | null, extra: Record<string, string> = {}) =>
      this.metrics.gauge(name, help, ['model_class', 'window', ...Object.keys(extra)], async (gauge) => {
        gauge.reset();
        for (const [window, classes] of await this.figures()) {
          for (const [modelClass, s] of classes) {
            const v = value(s);
            if (v !== null) gauge.set({ model_class: modelClass, window, ...extra }, Number(v));
          }
        }
      });
    figure('tokex_market_verified_tokens', 'Verified billable tokens delivered, per model class and window', (s) => s.verifiedTokens);
    figure('tokex_market_requests', 'Verified requests, per model class and window', (s) => s.requests);
    figure('tokex_market_tokens_per_second_p50', 'p50 of requests’ tokens per second after the first token', (s) => s.tokensPerSecondP50);
    this.metrics.gauge('tokex_market_ttft_ms', 'Time to first token, by quantile (0.5, 0.99)', ['model_class', 'window', 'quantile'], async (gauge) => {
      gauge.reset();
      for (const [window, classes] of await this.figures()) {
        for (const [modelClass, s] of classes) {
          if (s.ttftMsP50 !== null) gauge.set({ model_class: modelClass, window, quantile: '0.5' }, s.ttftMsP50);
          if (s.ttftMsP99 !== null) gauge.set({ model_class: modelClass, window, quantile: '0.99' }, s.ttftMsP99);
        }
      }
    });
    figure('tokex_market_latency_ms_p99', 'End-to-end request latency, p99', (s) => s.latencyMsP99);
    figure('tokex_market_sla_misses', 'Requests out of the model class’s SLA', (s) => s.slaMisses);
    figure('tokex_market_cost_per_1k_output_tokens_usd', 'USD paid per 1,000 verified output tokens, at prices actually paid', (s) => s.costPer1kOutputTokens);
    figure('tokex_market_tokens_per_second_per_dollar', 'p50 tokens per second per USD of price per million output tokens', (s) => s.tokensPerSecondPerDollar);
    figure('tokex_market_uptime_ratio', 'Share of the exchange’s health probes answered ok', (s) => s.uptime);
    figure('tokex_market_breach_rate', 'Share of closed deliveries closed in breach', (s) => s.breachRate);
    figure('tokex_market_dispute_rate', 'Disputes upheld against providers per verified request', (s) => s.disputeRate);
  }

  private async figures(): Promise<Map<WindowName, Map<string, Scorecard>>> {
    if (this.cached && Date.now() - this.cached.at < FRESH_MS) return this.cached.figures;
    const figures = new Map<WindowName, Map<string, Scorecard>>();
    for (const w of WINDOW_NAMES) figures.set(w, await this.scorecards.market(w));
    this.cached = { at: Date.now(), figures };
    return figures;
  }
}
