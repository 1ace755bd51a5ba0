import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { formatUsd } from '../../common/money.js';
import { LedgerAuditService } from '../../ledger/ledger-audit.service.js';
import type { CandleInterval } from '../../market-data/candle-window.js';
import { MarketDataService } from '../../market-data/market-data.service.js';
import { MarketsService } from '../../markets/markets.service.js';
import { JobQueues, type QueueDepth } from '../../platform/jobs/job-queues.js';

export interface MarketRow {
  readonly symbol: string;
  readonly kind: string;
  readonly status: string;
  readonly lastPrice: string | null;
  readonly volume24h: number | null;
  /** Forwards: tokens held long. Spot: tokens of open deliveries not yet delivered. */
  readonly openInterest: number;
}

export interface Overview {
  readonly markets: MarketRow[];
  readonly indexes: Array<{ modelClass: string; instrument: string; price: string | null; method: string | null; history: Array<{ time: string; price: string; volume: number }> }>;
  readonly chart: { symbol: string; interval: CandleInterval; candles: Array<{ time: string; open: string; high: string; low: string; close: string; volume: number }> } | null;
  readonly queues: QueueDepth[];
  readonly trialBalance: { postedSum: string; pendingSum: string; balanced: boolean; byKind: Array<{ kind: string; accounts: number; balance: string }> };
  readonly lastAudit: { reason: string; sound: boolean; mismatches: number; checkedAt: string } | null;
}

const MAX_MARKETS = 100;
const CANDLES = 96;

/** What the overview page shows, read from the services the API's own routes use. */
@Injectable()
export class OverviewService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly markets: MarketsService,
    private readonly marketData: MarketDataService,
    private readonly queues: JobQueues,
    private readonly ledgerAudit: LedgerAuditService,
  ) {}

  async overview(chartSymbol: string | undefined, interval: CandleInterval, now = new Date()): Promise<Overview> {
    const listed = (await this.markets.listInstruments({ limit: MAX_MARKETS })).items;
    const interest = await this.openInterest();
    const markets = await Promise.all(
      listed.map(async (i): Promise<MarketRow> => {
        const ticker = await this.marketData.ticker(i.symbol, now).catch(() => undefined);
        return { symbol: i.symbol, kind: i.kind, status: i.status, lastPrice: ticker?.lastPrice ?? null, volume24h: ticker?.volume24h ?? null, openInterest: interest.get(i.symbol) ?? 0 };
      }),
    );
    const spot = listed.filter((i) => i.kind === 'spot');
    const indexes = await Promise.all(spot.map((i) => this.marketData.index(i.modelClassId, { hours: 48 }, now).catch(() => undefined)));
    const symbol = chartSymbol && listed.some((i) => i.symbol === chartSymbol) ? chartSymbol : (markets.find((m) => m.lastPrice !== null) ?? markets[0])?.symbol;
    const candles = symbol ? await this.marketData.candles(symbol, { interval, limit: CANDLES }, now).catch(() => undefined) : undefined;
    return {
      markets,
      indexes: indexes.flatMap((x) => (x ? [{ modelClass: x.modelClass, instrument: x.instrument, price: x.price, method: x.method, history: x.history }] : [])),
      chart: symbol && candles ? { symbol, interval, candles: candles.items.map((c) => ({ time: c.time, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume })) } : null,
      ...(await this.health()),
    };
  }

  /** Queue depths, the trial balance and the last ledger audit. */
  async health(): Promise<Pick<Overview, 'queues' | 'trialBalance' | 'lastAudit'>> {
    const [queues, trialBalance, lastAudit] = await Promise.all([this.queues.depths(), this.ledgerAudit.trialBalance(), this.ledgerAudit.lastVerdict()]);
    return {
      queues,
      trialBalance: {
        postedSum: formatUsd(trialBalance.postedSum),
        pendingSum: formatUsd(trialBalance.pendingSum),
        balanced: trialBalance.balanced,
        byKind: trialBalance.byKind.map((k) => ({ kind: k.kind, accounts: k.accounts, balance: formatUsd(k.balance) })),
      },
      lastAudit: lastAudit ? { reason: lastAudit.reason, sound: lastAudit.sound, mismatches: lastAudit.mismatches, checkedAt: lastAudit.checkedAt.toISOString() } : null,
    };
  }

  private async openInterest(): Promise<Map<string, number>> {
    const rows: Array<{ instrument: string; tokens: string }> = await this.dataSource.query(
      `SELECT p.instrument, sum(p.lots * i.lot_tokens)::text AS tokens
         FROM forward_positions p JOIN instruments i ON i.symbol = p.instrument
        WHERE p.lots > 0 GROUP BY p.instrument
       UNION ALL
       SELECT instrument, sum(quantity_tokens - paid_tokens - disputed_tokens - refunded_tokens)::text
         FROM deliveries WHERE status = 'open' GROUP BY instrument`,
    );
    return new Map(rows.map((r) => [r.instrument, Number(r.tokens)]));
  }
}
