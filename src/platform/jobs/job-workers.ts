import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { Worker } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { RedisConnections } from '../redis/redis.module.js';
import { JOB_DEFINITIONS, JOB_NAMES, QUEUE_NAMES } from './job-definitions.js';
import { JobQueues } from './job-queues.js';
import { JobRunner } from './job-runner.js';
import { OutboxSweeper } from './outbox-sweeper.js';

const SCHEDULER_REFRESH_MS = 30_000;
/** States of a schedule's next run that mean it will run: anything else (active, finished, none) needs an upsert. */
const NEXT_RUN_STATES: ReadonlySet<string> = new Set(['delayed', 'waiting', 'prioritized', 'waiting-children']);

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
   * Every worker checks the job schedules as it starts, and again every 30 s, and upserts any that
   * is missing (Redis lost it), has another interval (a new configuration), or has no next run.
   * BullMQ takes a scheduled run and adds its next in two round trips, so a worker SIGKILLed
   * between them leaves the schedule with no next run until BullMQ gives up on the killed run (its
   * lock, then a stalled check: up to about a minute); an upsert adds it. An intact schedule is not
   * touched: an upsert would move its waiting run to the back of a busy queue. Any number of
   * workers may do this at once: a worker's own scheduling of a run someone else already added is
   * a no-op.
   */
  private async refreshSchedulers(): Promise<void> {
    try {
      for (const name of JOB_NAMES) {
        const { queue: queueName, schedule } = JOB_DEFINITIONS[name];
        if (!schedule) continue;
        const queue = this.queues.queue(queueName);
        const id = `every-${name}`;
        const every = schedule.every(this.config.jobs);
        const current = await queue.getJobScheduler(id);
        if (current?.next !== undefined && Number(current.every) === every && NEXT_RUN_STATES.has(await queue.getJobState(`repeat:${id}:${current.next}`))) continue;
        await queue.upsertJobScheduler(id, { every }, { name, data: { payload: schedule.payload } });
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
