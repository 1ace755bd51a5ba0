import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { conflict, notFound } from '../common/domain-error.js';
import { MarketsService } from '../markets/markets.service.js';
import { decodeCursor, encodeCursor } from '../platform/http/pagination.js';
import { type BucketAggregate, BUCKET_MS, compareForBuyers, EMPTY_AGGREGATE, mergeAll, mergePerKey, type Scorecard, scorecardOf, type WindowName, windowRange } from './core/index.js';
import { type ProviderWindow, ScorecardBucketsRepository } from './scorecard-buckets.repository.js';
import type { LeagueResponse, ProviderScorecardResponse, WindowView } from './scorecards.dto.js';

/**
 * Reads scorecards from the fold's buckets (never from the source tables): a provider's, per
 * model class and node, and a model class's league table. Providers are named publicly by their
 * participant name (docs/scorecards.md); ids are not shown.
 */
@Injectable()
export class ScorecardsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly buckets: ScorecardBucketsRepository,
    private readonly markets: MarketsService,
  ) {}

  async provider(name: string, window: WindowName = '24h', modelClass?: string): Promise<ProviderScorecardResponse> {
    const providers: Array<{ id: string; name: string }> = await this.dataSource.query(
      `SELECT id, name FROM participants WHERE name = $1 AND 'provider' = ANY(roles) LIMIT 2`,
      [name],
    );
    if (providers.length === 0) throw notFound('PROVIDER_NOT_FOUND', `no provider is named ${JSON.stringify(name)}`);
    if (providers.length > 1) throw conflict('PROVIDER_NAME_AMBIGUOUS', `more than one provider is named ${JSON.stringify(name)}`);
    if (modelClass !== undefined) await this.markets.getModelClass(modelClass);
    return this.providerCard(providers[0], window, modelClass);
  }

  /** A provider's scorecard by its id (the ops console; ids are not public). */
  async providerById(id: string, window: WindowName = '24h'): Promise<ProviderScorecardResponse> {
    const [p]: Array<{ id: string; name: string }> = await this.dataSource.query(`SELECT id, name FROM participants WHERE id = $1 AND 'provider' = ANY(roles)`, [id]);
    if (!p) throw notFound('PROVIDER_NOT_FOUND', 'no such provider');
    return this.providerCard(p, window);
  }

  private async providerCard(p: { id: string; name: string }, window: WindowName, modelClass?: string): Promise<ProviderScorecardResponse> {
    const { view, from, to } = this.window(window);
    const nodes = await this.buckets.nodeWindows(this.dataSource.manager, { from, to, providerId: p.id, modelClassId: modelClass });
    const deliveries = await this.buckets.providerWindows(this.dataSource.manager, { from, to, providerId: p.id, modelClassId: modelClass });
    const classes = [...new Set([...nodes.map((n) => n.modelClassId), ...deliveries.map((d) => d.modelClassId)])].sort();
    return {
      provider: p.name,
      window: view,
      modelClasses: classes.map((c) => {
        const own = nodes.filter((n) => n.modelClassId === c).sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
        return {
          modelClass: c,
          scorecard: scorecardOf(withDeliveries(mergeAll(own.map((n) => n.aggregate)), deliveries.find((d) => d.modelClassId === c))),
          nodes: own.map((n) => ({ nodeId: n.nodeId, scorecard: scorecardOf(n.aggregate) })),
        };
      }),
    };
  }

  async league(modelClass: string, window: WindowName = '24h', limit = 100, cursor?: string): Promise<LeagueResponse> {
    // A model class that does not exist is a 404, as on every other route; one nobody served yet is an empty table.
    await this.markets.getModelClass(modelClass);
    // The table is ranked as it is read, so the cursor is the place in it where the page starts.
    const offset = Number(decodeCursor(cursor, ['bigint'])?.[0] ?? 0);
    const { view, market, ranked } = await this.ranked(modelClass, window);
    const page = ranked.slice(offset, offset + limit);
    return {
      modelClass,
      window: view,
      market,
      items: page.map((r, i) => ({ rank: offset + i + 1, provider: r.name, scorecard: r.scorecard })),
      nextCursor: offset + limit < ranked.length ? encodeCursor([offset + limit]) : null,
    };
  }

  /** The whole league table with the providers' ids (the ops console's). */
  async ranked(modelClass: string, window: WindowName = '24h'): Promise<{ view: WindowView; market: Scorecard; ranked: Array<{ id: string; name: string; scorecard: Scorecard }> }> {
    const { view, from, to } = this.window(window);
    const byProvider = await this.providerAggregates(from, to, modelClass);
    const names = new Map<string, string>(
      byProvider.size === 0
        ? []
        : (await this.dataSource.query(`SELECT id, name FROM participants WHERE id = ANY($1::uuid[])`, [[...byProvider.keys()]])).map((r: { id: string; name: string }) => [r.id, r.name]),
    );
    const ranked = [...byProvider]
      .map(([id, aggregate]) => ({ id, name: names.get(id) ?? '', aggregate }))
      .sort((a, b) => compareForBuyers(a.aggregate, b.aggregate) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return {
      view,
      market: scorecardOf(mergeAll(ranked.map((r) => r.aggregate))),
      ranked: ranked.map((r) => ({ id: r.id, name: r.name, scorecard: scorecardOf(r.aggregate) })),
    };
  }

  /** The whole market of each model class over the window: every node's buckets and every provider's deliveries. */
  async market(window: WindowName): Promise<Map<string, Scorecard>> {
    const { from, to } = this.window(window);
    const nodes = await this.buckets.nodeWindows(this.dataSource.manager, { from, to });
    const deliveries = await this.buckets.providerWindows(this.dataSource.manager, { from, to });
    const byClass = mergePerKey(nodes, (n) => n.modelClassId, (n) => n.aggregate);
    for (const d of deliveries) byClass.set(d.modelClassId, withDeliveries(byClass.get(d.modelClassId) ?? EMPTY_AGGREGATE, d));
    return new Map([...byClass].map(([c, a]) => [c, scorecardOf(a)]));
  }

  private async providerAggregates(from: Date, to: Date, modelClass: string): Promise<Map<string, BucketAggregate>> {
    const nodes = await this.buckets.nodeWindows(this.dataSource.manager, { from, to, modelClassId: modelClass });
    const deliveries = await this.buckets.providerWindows(this.dataSource.manager, { from, to, modelClassId: modelClass });
    const out = mergePerKey(nodes, (n) => n.providerId, (n) => n.aggregate);
    for (const d of deliveries) out.set(d.providerId, withDeliveries(out.get(d.providerId) ?? EMPTY_AGGREGATE, d));
    return out;
  }

  private window(window: WindowName): { view: WindowView; from: Date; to: Date } {
    // Wall time, as metering and settlement use: the records' times are real ones (the Clock's
    // fast mode is for forwards only, and a demo's would put every window days ahead of them).
    const range = windowRange(window, Date.now());
    return {
      view: { window, from: new Date(range.firstBucket).toISOString(), to: new Date(range.lastBucket + BUCKET_MS).toISOString() },
      from: new Date(range.firstBucket),
      to: new Date(range.lastBucket),
    };
  }
}

function withDeliveries(a: BucketAggregate, d: ProviderWindow | undefined): BucketAggregate {
  return d ? { ...a, deliveriesClosed: a.deliveriesClosed + d.deliveriesClosed, deliveriesBreached: a.deliveriesBreached + d.deliveriesBreached } : a;
}
