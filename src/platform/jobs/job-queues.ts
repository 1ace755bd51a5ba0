import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { type JobsOptions, Queue } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { MetricsService } from '../observability/metrics.service.js';
import { RedisConnections } from '../redis/redis.module.js';
import { JOB_DEFINITIONS, jobIdOf, type JobName, type JobPayloads, QUEUE_NAMES, type QueueName } from './job-definitions.js';

/** What travels in a BullMQ job: the payload, and the outbox row it came from, if any. */
export interface JobData<N extends JobName = JobName> {
  readonly payload: JobPayloads[N];
  readonly outboxId?: string;
}

export interface QueueDepth {
  readonly queue: QueueName;
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
  readonly failed: number;
}

/** The BullMQ queues (producers). Both roles have them: the API enqueues, the worker re-enqueues. */
@Injectable()
export class JobQueues implements OnApplicationShutdown {
  private readonly queues: Map<QueueName, Queue>;
  readonly defaultJobOptions: JobsOptions;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    redis: RedisConnections,
    metrics: MetricsService,
  ) {
    this.defaultJobOptions = {
      attempts: config.jobs.attempts,
      backoff: { type: 'exponential', delay: config.jobs.backoffMs },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: false, // failed jobs are kept, with their reason, for the ops console
    };
    this.queues = new Map(
      QUEUE_NAMES.map((name) => [
        name,
        new Queue(name, { connection: redis.client, prefix: config.redis.queuePrefix, defaultJobOptions: this.defaultJobOptions }),
      ]),
    );
    metrics.gauge('tokex_queue_jobs', 'Jobs in each BullMQ queue by state', ['queue', 'state'], async (gauge) => {
      for (const depth of await this.depths()) {
        for (const state of ['waiting', 'active', 'delayed', 'failed'] as const) gauge.set({ queue: depth.queue, state }, depth[state]);
      }
    });
  }

  queue(name: QueueName): Queue {
    return this.queues.get(name)!;
  }

  /** Enqueues jobs under their deterministic ids: a job Redis still knows is not added twice. */
  async enqueue(jobs: ReadonlyArray<{ name: JobName; key: string; data: JobData }>): Promise<void> {
    const byQueue = new Map<QueueName, typeof jobs[number][]>();
    for (const job of jobs) {
      const queue = JOB_DEFINITIONS[job.name].queue;
      const list = byQueue.get(queue);
      if (list) list.push(job);
      else byQueue.set(queue, [job]);
    }
    await Promise.all(
      [...byQueue].map(([queue, list]) =>
        this.queue(queue).addBulk(list.map((j) => ({ name: j.name, data: j.data, opts: { jobId: jobIdOf(j.name, j.key) } }))),
      ),
    );
  }

  async depths(): Promise<QueueDepth[]> {
    return Promise.all(
      [...this.queues].map(async ([queue, q]) => {
        const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'failed');
        return { queue, waiting: counts.waiting ?? 0, active: counts.active ?? 0, delayed: counts.delayed ?? 0, failed: counts.failed ?? 0 };
      }),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
