import { Injectable, Logger } from '@nestjs/common';
import { HandlesJob, type JobHandler } from '../platform/jobs/job-handler.js';
import { SettlementService } from './settlement.service.js';

/**
 * The scheduled settlement sweeps. Each runs its own transactions (a batch of deliveries each),
 * so the job's transaction stays idle; what a sweep does is decided by the rows it finds, so a
 * run that is repeated, overlaps another worker's, or follows a crash settles nothing twice.
 */
@Injectable()
@HandlesJob('settlement.payouts')
export class PayoutsJob implements JobHandler<'settlement.payouts'> {
  private readonly logger = new Logger(PayoutsJob.name);

  constructor(private readonly settlement: SettlementService) {}

  async handle(payload: { reason: string }): Promise<void> {
    const paid = await this.settlement.payOutVerifiedUsage();
    if (paid > 0) this.logger.debug({ reason: payload.reason, deliveries: paid }, 'verified usage paid out');
  }
}

@Injectable()
@HandlesJob('settlement.close-windows')
export class CloseWindowsJob implements JobHandler<'settlement.close-windows'> {
  private readonly logger = new Logger(CloseWindowsJob.name);

  constructor(private readonly settlement: SettlementService) {}

  async handle(payload: { reason: string }): Promise<void> {
    const closed = await this.settlement.closeDueWindows();
    if (closed > 0) this.logger.log({ reason: payload.reason, deliveries: closed }, 'delivery windows closed');
  }
}
