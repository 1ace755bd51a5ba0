import { Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../common/domain-error.js';
import { Clock } from '../platform/clock/clock.js';
import { HandlesJob, type JobHandler } from '../platform/jobs/job-handler.js';
import { ForwardsService } from './forwards.service.js';

/**
 * The forwards' daily cycle (market-rules §6), run by the worker on a schedule: every day that has
 * ended since a contract's last mark is marked, in order, and every contract past its last trade is
 * expired. Each mark and expiry commits with the contract's book, once per contract and day: a run
 * that repeats, overlaps another worker's or follows a crash finds the day marked and moves nothing.
 */
@Injectable()
@HandlesJob('forwards.mark-and-expire')
export class MarkAndExpireJob implements JobHandler<'forwards.mark-and-expire'> {
  private readonly logger = new Logger(MarkAndExpireJob.name);

  constructor(
    private readonly forwards: ForwardsService,
    private readonly clock: Clock,
  ) {}

  async handle(payload: { reason: string }): Promise<void> {
    const now = this.clock.now();
    const waiting = new Set<string>();
    for (const { symbol, day } of await this.forwards.dueMarks(now)) {
      if (waiting.has(symbol)) continue;
      try {
        const mark = await this.forwards.runMark(null, symbol, { day });
        this.logger.log({ reason: payload.reason, instrument: symbol, day, price: mark.price, source: mark.source }, 'forward marked');
      } catch (error) {
        // A contract with nothing to mark at (no trades, book, previous mark or index) waits for one.
        if (!(error instanceof DomainError && error.code === 'NO_MARK_PRICE')) throw error;
        this.logger.warn({ instrument: symbol, day }, 'no price to mark the forward at yet');
        waiting.add(symbol);
      }
    }
    for (const symbol of await this.forwards.dueExpiries(now)) {
      const outcome = await this.forwards.expire(null, symbol);
      this.logger.log({ reason: payload.reason, instrument: symbol, deliveries: outcome.deliveries, settlementPrice: outcome.settlementPrice }, 'forward expired');
    }
  }
}
