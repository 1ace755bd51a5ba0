import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { MarketsService } from '../../markets/markets.service.js';
import { Clock } from '../../platform/clock/clock.js';
import { ForwardSeriesService, type SeriesSpec } from './forward-series.service.js';
import { dueContracts } from './listing-plan.js';
import { forwardRequestOf } from './series-terms.js';

export interface ListedContract {
  readonly seriesId: string;
  readonly symbol: string;
}

/**
 * One listing run: for every active series, the contracts `dueContracts` names at the clock's now,
 * listed through the markets service with the series' terms. A contract already listed (by an
 * earlier run, a concurrent one, or an admin) is left as it is, so runs may repeat and overlap.
 */
@Injectable()
export class ForwardListing {
  private readonly logger = new Logger(ForwardListing.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly series: ForwardSeriesService,
    private readonly markets: MarketsService,
    private readonly clock: Clock,
  ) {}

  /** Lists what is due; answers what this run listed. A series that fails does not stop the others. */
  async run(reason: string): Promise<ListedContract[]> {
    const now = this.clock.now();
    const listed: ListedContract[] = [];
    const failed: string[] = [];
    for (const series of await this.series.activeSeries()) {
      try {
        listed.push(...(await this.listDue(series, now, reason)));
      } catch (error) {
        failed.push(series.id);
        this.logger.warn({ seriesId: series.id, reason, err: (error as Error).message }, 'could not list the contracts of a forward series');
      }
    }
    // Logged once committed: a listing is announced only when it exists.
    for (const contract of listed) this.logger.log({ ...contract, reason, at: now.toISOString() }, 'forward contract listed');
    if (failed.length > 0) throw new Error(`listing failed for forward series ${failed.join(', ')}`);
    return listed;
  }

  /** One series' due contracts, in one transaction. */
  private listDue(series: SeriesSpec, now: Date, reason: string): Promise<ListedContract[]> {
    return this.dataSource.transaction(async (manager) => {
      const listed: ListedContract[] = [];
      for (const period of dueContracts(series, now)) {
        const view = await this.markets.listForward(manager, forwardRequestOf(series, period), now, { seriesId: series.id, reason });
        if (view) listed.push({ seriesId: series.id, symbol: view.symbol });
      }
      return listed;
    });
  }
}
