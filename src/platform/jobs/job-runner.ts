import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { type Job, UnrecoverableError } from 'bullmq';
import { DataSource } from 'typeorm';
import { DomainError } from '../../common/domain-error.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { MetricsService } from '../observability/metrics.service.js';
import type { JobName } from './job-definitions.js';
import type { JobData } from './job-queues.js';
import { JobRegistry } from './job-registry.js';
import { JobSlots } from './job-slots.js';

/**
 * Runs one BullMQ job: its handler and, for outbox work, the completion of its outbox row, in one
 * transaction. The row is locked first, so a job delivered twice (Redis lost it and the sweeper
 * re-enqueued it, or a stalled job was retried) runs its effects once: the second run finds the
 * row done and does nothing.
 *
 * Jobs of every queue share one set of slots sized from the database pool (see JobSlots): a job
 * waits for a slot before it takes its connection, so jobs can never hold the whole pool.
 */
@Injectable()
export class JobRunner {
  readonly slots: JobSlots;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly registry: JobRegistry,
    private readonly metrics: MetricsService,
  ) {
    this.slots = JobSlots.forPool(config.database.poolSize);
  }

  run(job: Job<JobData>): Promise<void> {
    return this.slots.run(() => this.runInSlot(job));
  }

  private async runInSlot(job: Job<JobData>): Promise<void> {
    const name = job.name as JobName;
    const handler = this.registry.handlerOf(name);
    const { outboxId, payload } = job.data;
    try {
      const ran = await this.dataSource.transaction(async (manager) => {
        if (outboxId !== undefined) {
          const [row] = await manager.query(`SELECT status FROM outbox WHERE id = $1 FOR UPDATE`, [outboxId]);
          if (!row || row.status !== 'pending') return false;
        }
        await handler.handle(payload, { jobId: job.id!, attempt: job.attemptsMade + 1, manager });
        if (outboxId !== undefined) {
          await manager.query(
            `UPDATE outbox SET status = 'done', completed_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1`,
            [outboxId],
          );
        }
        return true;
      });
      this.metrics.jobsProcessed.inc({ job: name, outcome: ran ? 'completed' : 'skipped' });
    } catch (error) {
      // A business rejection will not change on retry; anything else (database, Redis, a bug) may.
      const rejection = error instanceof DomainError || error instanceof UnrecoverableError;
      const final = rejection || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const reason = error instanceof DomainError ? `${error.code}: ${error.message}` : String((error as Error)?.message ?? error);
      if (outboxId !== undefined) {
        await this.dataSource
          .query(
            `UPDATE outbox SET attempts = attempts + 1, last_error = $2,
                    status = CASE WHEN $3 THEN 'failed' ELSE status END
              WHERE id = $1 AND status = 'pending'`,
            [outboxId, reason.slice(0, 2000), final],
          )
          .catch(() => undefined); // the sweeper re-delivers; the next attempt records again
      }
      this.metrics.jobsProcessed.inc({ job: name, outcome: final ? 'failed' : 'retried' });
      throw rejection && !(error instanceof UnrecoverableError) ? new UnrecoverableError(reason) : error;
    }
  }
}
