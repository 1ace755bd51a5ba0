import { SetMetadata } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { JobName, JobPayloads } from './job-definitions.js';

export const JOB_HANDLER_METADATA = 'tokex:job-handler';

/** Marks a provider as the one handler of a job. */
export const HandlesJob = (name: JobName) => SetMetadata(JOB_HANDLER_METADATA, name);

export interface JobContext {
  readonly jobId: string;
  /** 1 on the first run. */
  readonly attempt: number;
  /**
   * The transaction the job runs in. For work that came through the outbox, its row is marked
   * done in this same transaction, so effects and completion commit together or not at all.
   */
  readonly manager: EntityManager;
}

export interface JobHandler<N extends JobName> {
  handle(payload: JobPayloads[N], context: JobContext): Promise<void>;
}
