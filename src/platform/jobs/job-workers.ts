import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { Worker } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { RedisConnections } from '../redis/redis.module.js';
import { JOB_DEFINITIONS, JOB_NAMES, QUEUE_NAMES } from './job-definitions.js';
import { JobQueues } from './job-queues.js';
import { JobRunner } from './job-runner.js';
import { OutboxSweeper } from './outbox-sweeper.js';

const SCHEDULER_REFRESH_MS = 30_000;

/**
 * The worker role: a BullMQ worker per queue, the outbox sweeper, and the periodic job schedulers.
 * Nothing starts in the api role. On shutdown, workers finish their active jobs first.
 */
@Injectable()
export class JobWorkers implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(JobWorkers.name);
  private workers: Worker[] = [];
  private schedulerTimer?: NodeJS.Timeout;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisConnections,
    private readonly queues: JobQueues,
    private readonly runner: JobRunner,
    private readonly sweeper: OutboxSweeper,
  ) {}

  get enabled(): boolean {
    return this.config.role !== 'api';
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled) return;
    this.workers = QUEUE_NAMES.map(
      (queue) =>
        new Worker(queue, (job) => this.runner.run(job), {
          connection: this.redis.open(`worker:${queue}`, { blocking: true }),
          prefix: this.config.redis.queuePrefix,
          concurrency: this.config.jobs.concurrency,
        }),
    );
    for (const worker of this.workers) {
      worker.on('failed', (job, error) =>
        this.logger.warn({ job: job?.name, jobId: job?.id, attempt: job?.attemptsMade, err: error.message }, 'job failed'),
      );
      worker.on('error', (error) => this.logger.warn({ err: error.message }, 'worker error'));
    }
    await this.sweeper.start();
    await this.refreshSchedulers();
    this.schedulerTimer = setInterval(() => void this.refreshSchedulers(), SCHEDULER_REFRESH_MS);
    this.logger.log({ queues: QUEUE_NAMES, concurrency: this.config.jobs.concurrency, jobSlots: this.runner.slots.size }, 'workers started');
  }

  /**
   * Every worker upserts the job schedulers as it starts, and again every 30 s. BullMQ takes a
   * scheduled job and adds its next run in two round trips, so a worker SIGKILLed between them
   * leaves the schedule with no next run until BullMQ gives up on the killed job (its lock, then a
   * stalled check: up to about a minute). An upsert adds the missing run, and one on an intact
   * schedule changes nothing (the next run keeps its time; a worker's own scheduling of a run that
   * someone else already added is a no-op), so any number of workers may do it at once. The
   * periodic upsert also brings the schedules back after Redis lost them.
   */
  private async refreshSchedulers(): Promise<void> {
    try {
      for (const name of JOB_NAMES) {
        const { queue, schedule } = JOB_DEFINITIONS[name];
        if (!schedule) continue;
        await this.queues
          .queue(queue)
          .upsertJobScheduler(`every-${name}`, { every: schedule.every(this.config.jobs) }, { name, data: { payload: schedule.payload } });
      }
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'could not refresh job schedulers');
    }
  }

  /** Before any module's shutdown: running jobs finish while the database connections are still open. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.schedulerTimer);
    await this.sweeper.stop();
    await Promise.all(this.workers.map((w) => w.close()));
  }
}
