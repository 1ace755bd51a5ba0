import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { MetricsService } from '../observability/metrics.service.js';
import type { JobName } from './job-definitions.js';
import { JobQueues } from './job-queues.js';

const BATCH = 500;

/**
 * Delivers pending outbox rows to BullMQ (worker role). Rows are claimed with SKIP LOCKED, so
 * several workers share the work; each delivery pushes the row's next delivery into the future, and
 * a row is delivered again and again until its job marks it done: if Redis loses a job, the next
 * sweep brings it back. Woken at once by NOTIFY when work is committed, and by a timer otherwise.
 */
@Injectable()
export class OutboxSweeper {
  private readonly logger = new Logger(OutboxSweeper.name);
  private timer?: NodeJS.Timeout;
  private listener?: pg.Client;
  private running?: Promise<void>;
  private again = false;
  private stopped = true;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly queues: JobQueues,
    private readonly metrics: MetricsService,
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    this.listener = new pg.Client({ connectionString: this.config.database.url, application_name: 'tokex:outbox-listener' });
    this.listener.on('error', (error) => this.logger.warn({ err: error }, 'outbox listener lost its connection; polling continues'));
    this.listener.on('notification', () => this.wake());
    await this.listener.connect();
    await this.listener.query('LISTEN tokex_outbox');
    this.timer = setInterval(() => this.wake(), this.config.jobs.outboxSweepIntervalMs);
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
    await this.listener?.end().catch(() => undefined);
  }

  /** Sweeps now, or right after the sweep under way. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.sweepUntilIdle()
      .catch((error) => this.logger.warn({ err: error }, 'outbox sweep failed; retrying on the next tick'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async sweepUntilIdle(): Promise<void> {
    while (!this.stopped && (await this.sweepOnce()) === BATCH);
  }

  /** Delivers one batch of due rows; returns how many. Public for tests. */
  async sweepOnce(): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      const rows: Array<{ id: string; job_name: JobName; job_key: string; payload: unknown }> = await manager.query(
        `SELECT id, job_name, job_key, payload FROM outbox
          WHERE status = 'pending' AND dispatch_after <= now()
          ORDER BY dispatch_after LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
      );
      if (rows.length === 0) return 0;
      // Enqueue before committing: if Redis refuses, the rows stay due and the next sweep retries.
      await this.queues.enqueue(
        rows.map((r) => ({ name: r.job_name, key: r.job_key, data: { payload: r.payload as never, outboxId: String(r.id) } })),
      );
      await manager.query(
        `UPDATE outbox SET dispatch_after = now() + make_interval(secs => $2::double precision / 1000),
                dispatch_count = dispatch_count + 1
          WHERE id = ANY($1::bigint[])`,
        [rows.map((r) => r.id), this.config.jobs.outboxRedispatchAfterMs],
      );
      this.metrics.outboxDispatched.inc(rows.length);
      return rows.length;
    });
  }
}
