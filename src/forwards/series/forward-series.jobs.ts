import { Injectable } from '@nestjs/common';
import { HandlesJob, type JobHandler } from '../../platform/jobs/job-handler.js';
import { ForwardListing } from './forward-listing.js';

/**
 * Lists the contracts forward series have due: on the schedule, and through the outbox when an
 * admin creates or changes a series. It runs its own transactions (one per series), so the job's
 * stays idle; what it lists is decided by the rows it finds, so repeats list nothing twice.
 */
@Injectable()
@HandlesJob('forwards.list-contracts')
export class ListForwardContractsJob implements JobHandler<'forwards.list-contracts'> {
  constructor(private readonly listing: ForwardListing) {}

  async handle(payload: { reason: string }): Promise<void> {
    await this.listing.run(payload.reason);
  }
}
