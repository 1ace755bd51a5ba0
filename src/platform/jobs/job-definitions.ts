import type { AppConfig } from '../config/app-config.js';

/**
 * The job registry: every job the workers run, its queue and its typed payload. Start-up fails if
 * a job here has no handler or two (see JobRegistry). Add a job by adding its payload type and
 * definition here and one `@HandlesJob` class in its domain module.
 */
export const QUEUE_NAMES = ['ledger', 'probes', 'settlement', 'orders', 'metering', 'forwards', 'scorecards'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export interface JobPayloads {
  /** Audit the ledger: trial balance and a rebuild of every account from its transfers. */
  'ledger.audit': { reason: string };
  /** Health-probe every node whose provider has an open delivery window now (breach evidence, market-rules §5). */
  'nodes.probe': { reason: string };
  /** Pay out verified usage not yet paid, delivery by delivery, in batches (market-rules §5). */
  'settlement.payouts': { reason: string };
  /** Settle every delivery window past its close: take-or-pay or breach (market-rules §5). */
  'settlement.close-windows': { reason: string };
  /** Expire overdue GTD orders (and release their holds) on books no process is serving. */
  'orders.expire-overdue': { reason: string };
  /** Verify one stored usage batch (outbox, keyed by the batch id). */
  'metering.verify-batch': { nodeId: string; batchId: string };
  /** Compare buyers' late reports with requests already verified (outbox). */
  'metering.check-buyer-reports': { deliveryId: string; requestIds: string[] };
  /** Scrape the token counters of nodes that owe a delivery. */
  'metering.scrape-counters': { reason: string };
  /** Send the exchange's own audit requests through nodes that owe a delivery and are due one (scheduled, and via the outbox when a node has reported enough requests since its last audit). */
  'metering.audit-nodes': { reason: string };
  /** Mark every forward for the days that ended since its last mark, and expire those past their last trade. */
  'forwards.mark-and-expire': { reason: string };
  /** List the contracts every active forward series has due and not yet listed (scheduled, and via the outbox when a series changes). */
  'forwards.list-contracts': { reason: string };
  /** Fold newly verified usage, resolved disputes, closed deliveries and probes into the scorecards' buckets (docs/scorecards.md). */
  'scorecards.fold': { reason: string };
}

export type JobName = keyof JobPayloads;

export interface JobDefinition<N extends JobName> {
  readonly queue: QueueName;
  /** Run periodically by a BullMQ job scheduler: how often (from configuration) and with what payload. */
  readonly schedule?: { readonly every: (config: AppConfig['jobs']) => number; readonly payload: JobPayloads[N] };
}

export const JOB_DEFINITIONS: { readonly [N in JobName]: JobDefinition<N> } = {
  'ledger.audit': { queue: 'ledger', schedule: { every: (c) => c.ledgerCheckIntervalMs, payload: { reason: 'scheduled' } } },
  'nodes.probe': { queue: 'probes', schedule: { every: (c) => c.nodeProbeIntervalMs, payload: { reason: 'scheduled' } } },
  'settlement.payouts': { queue: 'settlement', schedule: { every: (c) => c.settlementPayoutIntervalMs, payload: { reason: 'scheduled' } } },
  'settlement.close-windows': { queue: 'settlement', schedule: { every: (c) => c.settlementCloseIntervalMs, payload: { reason: 'scheduled' } } },
  'orders.expire-overdue': { queue: 'orders', schedule: { every: (c) => c.orderExpiryIntervalMs, payload: { reason: 'scheduled' } } },
  'metering.verify-batch': { queue: 'metering' },
  'metering.check-buyer-reports': { queue: 'metering' },
  'metering.scrape-counters': { queue: 'metering', schedule: { every: (c) => c.meteringScrapeIntervalMs, payload: { reason: 'scheduled' } } },
  'metering.audit-nodes': { queue: 'metering', schedule: { every: (c) => c.meteringAuditIntervalMs, payload: { reason: 'scheduled' } } },
  'forwards.mark-and-expire': { queue: 'forwards', schedule: { every: (c) => c.forwardMarkIntervalMs, payload: { reason: 'scheduled' } } },
  'forwards.list-contracts': { queue: 'forwards', schedule: { every: (c) => c.forwardListingIntervalMs, payload: { reason: 'scheduled' } } },
  'scorecards.fold': { queue: 'scorecards', schedule: { every: (c) => c.scorecardFoldIntervalMs, payload: { reason: 'scheduled' } } },
};

export const JOB_NAMES = Object.keys(JOB_DEFINITIONS) as JobName[];

/**
 * BullMQ job ids are deterministic (job name + business key), so enqueuing the same work twice is
 * a no-op while the job is known to Redis. BullMQ refuses ':' in custom ids; encoding keeps the
 * mapping one-to-one.
 */
export function jobIdOf(name: JobName, key: string): string {
  return `${name}|${encodeURIComponent(key)}`;
}
