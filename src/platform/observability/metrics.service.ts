import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One Prometheus registry per application instance (tests boot several in one process). Modules
 * create their metrics through it; `/metrics` renders it.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpRequestDuration = new Histogram({
    name: 'tokex_http_request_duration_seconds',
    help: 'HTTP request latency by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly jobsProcessed = new Counter({
    name: 'tokex_jobs_processed_total',
    help: 'Jobs run by this worker, by job name and outcome (completed, retried, failed, skipped)',
    labelNames: ['job', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly outboxDispatched = new Counter({
    name: 'tokex_outbox_dispatched_total',
    help: 'Outbox rows handed to BullMQ by the sweeper (including re-dispatches)',
    registers: [this.registry],
  });

  readonly orderBatchSize = new Histogram({
    name: 'tokex_order_batch_commands',
    help: 'Commands per group commit of an instrument writer',
    labelNames: ['instrument'] as const,
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registers: [this.registry],
  });

  readonly orderBatchDuration = new Histogram({
    name: 'tokex_order_batch_seconds',
    help: 'Time of one group commit, by phase: prepare (reads before the transaction, matching), commit (the transaction)',
    labelNames: ['instrument', 'phase'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5],
    registers: [this.registry],
  });

  readonly orderBatchesPlanned = new Counter({
    name: 'tokex_order_batches_planned_total',
    help: "Batches an instrument writer planned, by how: 'ahead' (while the previous batch committed) or 'alone'",
    labelNames: ['instrument', 'planned'] as const,
    registers: [this.registry],
  });

  readonly orderBatchRetries = new Counter({
    name: 'tokex_order_batch_retries_total',
    help: 'Failed batch attempts of an instrument writer, each followed by a rebuild of its book, by reason: balance_moved and conflict (a race) run the batch again alone, error refuses it',
    labelNames: ['instrument', 'reason'] as const,
    registers: [this.registry],
  });

  readonly settlementBatchSeconds = new Histogram({
    name: 'tokex_settlement_batch_seconds',
    help: 'Time of one settlement transaction (up to 200 deliveries paid out or closed)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  readonly settledDeliveries = new Counter({
    name: 'tokex_settled_deliveries_total',
    help: 'Deliveries settled by step: payout (verified usage paid) or close (window closed)',
    labelNames: ['step'] as const,
    registers: [this.registry],
  });

  readonly settlementStepsPassedOver = new Counter({
    name: 'tokex_settlement_steps_passed_over_total',
    help: 'Deliveries a settlement sweep left for the next one after an error that is not a ledger refusal (a database error, a bug): each should be looked into',
    labelNames: ['step'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'tokex_process_' });
  }

  /** A gauge whose value is read when Prometheus scrapes. */
  gauge<L extends string>(name: string, help: string, labelNames: readonly L[], collect: (gauge: Gauge<L>) => Promise<void>): Gauge<L> {
    return new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        await collect(this);
      },
    });
  }
}
