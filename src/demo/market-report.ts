import { TokexClient } from './tokex-client.js';
import { sumUsd } from './decimal.js';

/** What the demo shows while it runs and sums up at the end: read from the API, as an admin. */
export interface MarketReport {
  readonly markets: Record<string, { kind: 'spot' | 'forward'; trades: number; volume: number; notional: string; lastPrice: string | null }>;
  readonly index: { price: string | null; method: string | null };
  readonly marks: Array<{ instrument: string; day: string; price: string; source: string }>;
  readonly deliveries: { count: number; ordered: number; delivered: number; paid: number; disputed: number; providerPaid: string };
  /** Disputes by provider, then by kind (how many, and the tokens they hold out of settlement). */
  readonly disputes: { count: number; byProvider: Record<string, Record<string, { count: number; tokens: number }>> };
  readonly payouts: { count: number; tokens: number; amount: string };
  readonly trialBalance: { postedSum: string; pendingSum: string; balanced: boolean };
  /** The model class's league table over the last hour (GET /v1/scorecards, public; docs/scorecards.md). */
  readonly scorecards: ReadonlyArray<{
    rank: number;
    provider: string;
    requests: number;
    verifiedTokens: number;
    tokensPerSecondP50: string | null;
    ttftMsP50: number | null;
    ttftMsP99: number | null;
    costPer1kOutputTokens: string | null;
    uptime: string | null;
    slaMisses: number;
    disputesUpheld: number;
  }>;
}

export interface ReportContext {
  readonly admin: TokexClient;
  readonly modelClassId: string;
  readonly spot: string;
  readonly forward: string;
  /** Participant and node ids → names, for the disputes. */
  readonly names: ReadonlyMap<string, string>;
}

export async function readReport(ctx: ReportContext): Promise<MarketReport> {
  const { admin } = ctx;
  const [spotTicker, forwardTicker, index, marks, deliveries, disputes, payouts, trial, league] = await Promise.all([
    admin.get(`/v1/markets/${ctx.spot}/ticker`),
    admin.get(`/v1/markets/${ctx.forward}/ticker`),
    admin.get(`/v1/index/${ctx.modelClassId}`),
    admin.all(`/v1/forwards/${ctx.forward}/marks`),
    admin.all('/v1/admin/deliveries'),
    Promise.all([admin.all('/v1/admin/disputes?status=open'), admin.all('/v1/admin/disputes?status=resolved')]).then(([a, b]) => [...a, ...b]),
    admin.all('/v1/admin/settlements?kind=payout'),
    admin.get('/v1/admin/ledger/trial-balance'),
    admin.get(`/v1/scorecards?modelClass=${ctx.modelClassId}&window=1h`),
  ]);
  const market = (kind: 'spot' | 'forward', t: any) => ({ kind, trades: t.trades24h, volume: t.volume24h, notional: t.notional24h, lastPrice: t.lastPrice });
  const name = (id: string) => ctx.names.get(id) ?? id;
  const byProvider: Record<string, Record<string, { count: number; tokens: number }>> = {};
  for (const d of disputes) {
    const kinds = (byProvider[name(d.providerId)] ??= {});
    const entry = (kinds[d.kind] ??= { count: 0, tokens: 0 });
    entry.count += 1;
    entry.tokens += d.tokens;
  }
  const sum = (field: string) => deliveries.reduce((s: number, d: any) => s + Number(d[field]), 0);
  return {
    markets: { [ctx.spot]: market('spot', spotTicker), [ctx.forward]: market('forward', forwardTicker) },
    index: { price: index.price, method: index.method ?? null },
    marks: marks.map((m: any) => ({ instrument: m.instrument, day: m.day, price: m.price, source: m.source })),
    deliveries: {
      count: deliveries.length,
      ordered: sum('ordered'),
      delivered: sum('delivered'),
      paid: sum('paid'),
      disputed: sum('disputed'),
      providerPaid: sumUsd(deliveries.map((d: any) => d.providerPaid)),
    },
    disputes: { count: disputes.length, byProvider },
    payouts: {
      count: payouts.length,
      tokens: payouts.reduce((s: number, p: any) => s + p.tokens, 0),
      amount: sumUsd(payouts.map((p: any) => p.amounts?.providerPayout ?? '0')),
    },
    trialBalance: { postedSum: trial.postedSum, pendingSum: trial.pendingSum, balanced: trial.balanced },
    scorecards: league.items.map((e: any) => ({
      rank: e.rank,
      provider: e.provider,
      requests: e.scorecard.requests,
      verifiedTokens: e.scorecard.verifiedTokens,
      tokensPerSecondP50: e.scorecard.tokensPerSecondP50,
      ttftMsP50: e.scorecard.ttftMsP50,
      ttftMsP99: e.scorecard.ttftMsP99,
      costPer1kOutputTokens: e.scorecard.costPer1kOutputTokens,
      uptime: e.scorecard.uptime,
      slaMisses: e.scorecard.slaMisses,
      disputesUpheld: e.scorecard.disputesUpheld,
    })),
  };
}

/** The checks the summary must pass (`--exit` exits 0 only when every one holds). */
export function checksOf(report: MarketReport, honest: string, inflating: string): Record<string, boolean> {
  const m = Object.values(report.markets);
  return {
    spotTraded: m.some((x) => x.kind === 'spot' && x.trades > 0),
    forwardTraded: m.some((x) => x.kind === 'forward' && x.trades > 0),
    tokensDelivered: report.deliveries.delivered > 0,
    tokensPaid: report.deliveries.paid > 0 && report.payouts.count > 0 && report.payouts.amount !== '0.000000',
    forwardMarked: report.marks.length > 0,
    inflatingNodeDisputed: disputesAgainst(report, inflating) > 0,
    honestNodeNotDisputed: disputesAgainst(report, honest) === 0,
    trialBalanceZero: report.trialBalance.postedSum === '0.000000' && report.trialBalance.pendingSum === '0.000000',
    honestScorecardPublished: report.scorecards.some((e) => e.provider === honest && e.verifiedTokens > 0 && e.disputesUpheld === 0),
  };
}

export const disputesAgainst = (report: MarketReport, provider: string): number =>
  Object.values(report.disputes.byProvider[provider] ?? {}).reduce((n, k) => n + k.count, 0);

const pad = (s: string | number, n: number) => String(s).padStart(n);

/** One progress line, for a terminal or a log. */
export function progressLine(elapsedS: number, r: MarketReport, clock: string): string {
  const [spot, forward] = Object.values(r.markets);
  return [
    `${pad(elapsedS, 3)}s`,
    `demo clock ${clock}`,
    `spot ${spot.trades} trades ${spot.volume} tok`,
    `fwd ${forward.trades} trades ${forward.volume} tok`,
    `index ${r.index.price ?? '-'}`,
    `marks ${r.marks.length}`,
    `deliveries ${r.deliveries.count}`,
    `delivered ${r.deliveries.delivered} tok`,
    `disputes ${r.disputes.count}`,
    `payouts ${r.payouts.count} (${r.payouts.amount} USD)`,
  ].join(' | ');
}

/** The end-of-run summary, for a person. */
export function summaryText(r: MarketReport, checks: Record<string, boolean>): string {
  const lines = ['', 'Summary', '', '  market                     kind     trades      volume (tokens)   notional (USD)   last'];
  for (const [symbol, m] of Object.entries(r.markets)) lines.push(`  ${symbol.padEnd(26)} ${m.kind.padEnd(8)} ${pad(m.trades, 6)} ${pad(m.volume, 20)} ${pad(m.notional, 16)}   ${m.lastPrice ?? '-'}`);
  lines.push('', `  spot index         ${r.index.price ?? '-'} USD/MTok (${r.index.method ?? 'no trades'})`);
  lines.push(`  forward marks      ${r.marks.length === 0 ? 'none' : r.marks.map((m) => `${m.day} ${m.price} (${m.source})`).join(', ')}`);
  const d = r.deliveries;
  lines.push(`  deliveries         ${d.count}: ${d.ordered} tokens bought, ${d.delivered} delivered (verified), ${d.paid} paid, ${d.disputed} held in dispute`);
  lines.push(`  payouts            ${r.payouts.count} steps, ${r.payouts.tokens} tokens, ${r.payouts.amount} USD to providers`);
  const against = Object.entries(r.disputes.byProvider).flatMap(([provider, kinds]) =>
    Object.entries(kinds).map(([kind, k]) => `${k.count} against ${provider} (${kind}, ${k.tokens} tokens held)`),
  );
  lines.push(`  disputes           ${against.length === 0 ? 'none' : against.join('; ')}`);
  lines.push(`  trial balance      ${r.trialBalance.postedSum} posted, ${r.trialBalance.pendingSum} pending (${r.trialBalance.balanced ? 'balanced' : 'NOT BALANCED'})`);
  lines.push('', '  scorecards (last hour, verified usage only; disputes count once an admin resolves them)');
  lines.push('   #  provider                 requests  verified tok  tok/s p50  TTFT ms p50/p99  USD/1k out  uptime  SLA misses  disputes upheld');
  for (const e of r.scorecards) {
    lines.push(
      `  ${pad(e.rank, 2)}  ${e.provider.padEnd(22)} ${pad(e.requests, 9)} ${pad(e.verifiedTokens, 13)} ${pad(e.tokensPerSecondP50 ?? '-', 10)} ${pad(`${e.ttftMsP50 ?? '-'}/${e.ttftMsP99 ?? '-'}`, 16)} ${pad(e.costPer1kOutputTokens ?? '-', 11)} ${pad(e.uptime ?? '-', 7)} ${pad(e.slaMisses, 11)} ${pad(e.disputesUpheld, 16)}`,
    );
  }
  if (r.scorecards.length === 0) lines.push('      none yet');
  lines.push('', '  checks');
  for (const [name, ok] of Object.entries(checks)) lines.push(`    ${ok ? 'ok  ' : 'FAIL'} ${name}`);
  return lines.join('\n');
}
