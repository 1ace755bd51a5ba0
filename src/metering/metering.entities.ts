import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { bigintColumn } from '../platform/database/bigint.transformer.js';

/**
 * A signed usage batch as a node sent it (market-rules §7): stored raw, with its signature, before
 * anything else is done with it, so every verdict can be re-derived from what the node signed.
 * `answer` is the first answer given, returned again to a resend.
 */
@Entity('usage_batches')
@Index('usage_batches_received_idx', ['receivedAt'])
@Check('usage_batches_status_known', `status IN ('received', 'verified')`)
export class UsageBatchRow {
  @PrimaryColumn('uuid', { name: 'node_id' })
  nodeId: string;

  /** The node's batch id: unique per node (api.md). */
  @PrimaryColumn('text', { name: 'batch_id' })
  batchId: string;

  @Column('uuid', { name: 'provider_id' })
  providerId: string;

  /** The body exactly as signed (UTF-8 JSON), and the signature over its bytes. */
  @Column('text')
  body: string;

  @Column('text')
  signature: string;

  @Column('int', { name: 'record_count' })
  recordCount: number;

  @Column('jsonb')
  answer: Record<string, unknown>;

  @Column('text', { default: 'received' })
  status: 'received' | 'verified';

  @CreateDateColumn({ name: 'received_at', type: 'timestamptz' })
  receivedAt: Date;

  @Column('timestamptz', { name: 'verified_at', nullable: true })
  verifiedAt: Date | null;
}

export const USAGE_VERDICTS = ['verified', 'disputed', 'rejected', 'audit'] as const;
export type UsageVerdict = (typeof USAGE_VERDICTS)[number];

/**
 * SQL: the records a batch stored (`r` a usage_records row; `$1` the node, `$2` the batch id),
 * found by the request ids its answer accepted, through the primary key (there is no index by
 * batch: one index fewer on the hottest insert).
 */
export const BATCH_RECORDS = `r.node_id = $1 AND r.batch_id = $2
  AND r.request_id IN (SELECT jsonb_array_elements_text(ub.answer -> 'accepted') FROM usage_batches ub WHERE ub.node_id = $1 AND ub.batch_id = $2)`;

/**
 * One inference request a node reported, counted once per node however often it is sent. The
 * verdict and the tokens billed come from the verification job; `flags` names every check it
 * failed (outside the window, implausible speed, out of SLA, counter or buyer mismatch...).
 * Its pages are filled to 45 % (migration MeteringIngestAtScale), so that update is HOT.
 */
@Entity('usage_records')
@Index('usage_records_delivery_idx', ['deliveryId', 'startedAt'])
@Index('usage_records_node_started_idx', ['nodeId', 'startedAt'])
@Check('usage_records_verdict_known', `verdict IS NULL OR verdict IN ('verified', 'disputed', 'rejected', 'audit')`)
export class UsageRecordRow {
  @PrimaryColumn('uuid', { name: 'node_id' })
  nodeId: string;

  @PrimaryColumn('text', { name: 'request_id' })
  requestId: string;

  @Column('text', { name: 'batch_id' })
  batchId: string;

  @Column('uuid', { name: 'delivery_id' })
  deliveryId: string;

  /** The delivery key it was served under, when the node says (an addition to v1). */
  @Column('uuid', { name: 'key_id', nullable: true })
  keyId: string | null;

  @Column('text', { name: 'output_sha256', nullable: true })
  outputSha256: string | null;

  @Column('text')
  model: string;

  @Column('int', { name: 'prompt_tokens' })
  promptTokens: number;

  @Column('int', { name: 'completion_tokens' })
  completionTokens: number;

  @Column('timestamptz', { name: 'started_at' })
  startedAt: Date;

  @Column('timestamptz', { name: 'finished_at' })
  finishedAt: Date;

  @Column('int', { name: 'ttft_ms' })
  ttftMs: number;

  @Column('text')
  status: 'ok' | 'error';

  @Column('boolean')
  stream: boolean;

  /** Billable tokens as the node reported them (market-rules §1). */
  @Column('bigint', { name: 'reported_billable', transformer: bigintColumn })
  reportedBillable: bigint;

  @Column('text', { nullable: true })
  verdict: UsageVerdict | null;

  /** Billable tokens paid for: min(reported, the exchange's own count where it has one). */
  @Column('bigint', { name: 'billable_tokens', nullable: true, transformer: bigintColumn })
  billableTokens: bigint | null;

  /** Whether the request met the model class's SLA (TTFT, tokens per second). */
  @Column('boolean', { name: 'within_sla', nullable: true })
  withinSla: boolean | null;

  @Column('text', { array: true, default: '{}' })
  flags: string[];
}

/** A buyer's own count of a request it sent, to be compared with the node's report. */
@Entity('buyer_reports')
@Index('buyer_reports_delivery_idx', ['deliveryId'])
export class BuyerReportRow {
  @PrimaryColumn('uuid', { name: 'delivery_id' })
  deliveryId: string;

  @PrimaryColumn('text', { name: 'request_id' })
  requestId: string;

  @Column('uuid', { name: 'buyer_id' })
  buyerId: string;

  @Column('int', { name: 'prompt_tokens' })
  promptTokens: number;

  @Column('int', { name: 'completion_tokens' })
  completionTokens: number;

  @CreateDateColumn({ name: 'reported_at', type: 'timestamptz' })
  reportedAt: Date;
}

export const DISPUTE_STATUSES = ['open', 'resolved'] as const;
export const DISPUTE_RESOLUTIONS = ['provider', 'buyer', 'split'] as const;
export type DisputeResolution = (typeof DISPUTE_RESOLUTIONS)[number];

/**
 * A mismatch beyond tolerance between what a node reported and what the exchange can check. Its
 * tokens are held out of settlement (the delivery's `disputed_tokens`) until an admin resolves it.
 */
@Entity('disputes')
@Index('disputes_open_idx', ['createdAt'], { where: `status = 'open'` })
@Index('disputes_delivery_idx', ['deliveryId'])
@Index('disputes_node_open_idx', ['nodeId', 'kind'], { where: `status = 'open'` })
@Check('disputes_status_known', `status IN ('open', 'resolved')`)
@Check('disputes_resolution_known', `resolution IS NULL OR resolution IN ('provider', 'buyer', 'split')`)
export class DisputeRow {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** One dispute per cause: e.g. `record:<node>:<request>:buyer_mismatch`. */
  @Index('disputes_key', { unique: true })
  @Column('text')
  key: string;

  @Column('uuid', { name: 'delivery_id' })
  deliveryId: string;

  @Column('uuid', { name: 'node_id' })
  nodeId: string;

  @Column('uuid', { name: 'provider_id' })
  providerId: string;

  @Column('uuid', { name: 'buyer_id' })
  buyerId: string;

  @Column('text')
  kind: string;

  /** Billable tokens held out of settlement. */
  @Column('bigint', { transformer: bigintColumn })
  tokens: bigint;

  @Column('jsonb')
  evidence: Record<string, unknown>;

  @Column('text', { default: 'open' })
  status: 'open' | 'resolved';

  @Column('text', { nullable: true })
  resolution: DisputeResolution | null;

  /** Of `tokens`, how many the resolution paid the provider for. */
  @Column('bigint', { name: 'provider_tokens', nullable: true, transformer: bigintColumn })
  providerTokens: bigint | null;

  @Column('text', { nullable: true })
  reason: string | null;

  @Column('uuid', { name: 'resolved_by', nullable: true })
  resolvedBy: string | null;

  @Column('timestamptz', { name: 'resolved_at', nullable: true })
  resolvedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

/** A scrape of a node's own Prometheus counters (vLLM's), for reconciliation. */
@Entity('node_counter_samples')
@Index('node_counter_samples_node_idx', ['nodeId', 'scrapedAt'])
export class NodeCounterSampleRow {
  @PrimaryColumn('bigint', { generated: 'identity', generatedIdentity: 'ALWAYS', transformer: bigintColumn })
  id: bigint;

  @Column('uuid', { name: 'node_id' })
  nodeId: string;

  @Column('timestamptz', { name: 'scraped_at' })
  scrapedAt: Date;

  @Column('numeric', { name: 'prompt_tokens_total' })
  promptTokensTotal: string;

  @Column('numeric', { name: 'generation_tokens_total' })
  generationTokensTotal: string;

  @Column('numeric', { name: 'request_success_total' })
  requestSuccessTotal: string;
}

/**
 * A node's running reconciliation with its own counters (core/reconciliation.ts): from a baseline
 * sample, how much the counters grew and how much the node reported, so each batch is judged on
 * everything reported since the baseline. Reset when an admin resolves a counter dispute.
 */
@Entity('node_reconciliations')
export class NodeReconciliationRow {
  @PrimaryColumn('uuid', { name: 'node_id', primaryKeyConstraintName: 'node_reconciliations_pkey' })
  nodeId: string;

  @Column('timestamptz', { name: 'baseline_at' })
  baselineAt: Date;

  /** The latest sample the reconciliation has reached. */
  @Column('timestamptz', { name: 'checked_at' })
  checkedAt: Date;

  @Column('numeric', { name: 'last_prompt_total' })
  lastPromptTotal: string;

  @Column('numeric', { name: 'last_generation_total' })
  lastGenerationTotal: string;

  /** The counters' growth since the baseline (a drop counts as a restart). */
  @Column('numeric', { name: 'counted_prompt_tokens', default: '0' })
  countedPromptTokens: string;

  @Column('numeric', { name: 'counted_generation_tokens', default: '0' })
  countedGenerationTokens: string;

  /** What the node reported for its successful requests started since the baseline. */
  @Column('bigint', { name: 'reported_requests', default: '0', transformer: bigintColumn })
  reportedRequests: bigint;

  @Column('bigint', { name: 'reported_prompt_tokens', default: '0', transformer: bigintColumn })
  reportedPromptTokens: bigint;

  @Column('bigint', { name: 'reported_completion_tokens', default: '0', transformer: bigintColumn })
  reportedCompletionTokens: bigint;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}

/** A request the exchange itself sent through a node, and its own re-count of the answer. */
@Entity('node_audits')
@Index('node_audits_node_idx', ['nodeId', 'createdAt'])
export class NodeAuditRow {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid', { name: 'node_id' })
  nodeId: string;

  @Column('uuid', { name: 'delivery_id' })
  deliveryId: string;

  /** The response id the node answered with: what it should report. */
  @Column('text', { name: 'request_id', nullable: true })
  requestId: string | null;

  /** Null while the audit is in flight (its row claims the node's next audit). */
  @Column('boolean', { nullable: true })
  ok: boolean | null;

  @Column('int', { name: 'answered_prompt_tokens', nullable: true })
  answeredPromptTokens: number | null;

  @Column('int', { name: 'answered_completion_tokens', nullable: true })
  answeredCompletionTokens: number | null;

  /** The exchange's count of the returned text with the model class's tokenizer. */
  @Column('int', { name: 'recounted_completion_tokens', nullable: true })
  recountedCompletionTokens: number | null;

  @Column('text', { nullable: true })
  error: string | null;

  /** The API the audit went through: `completions` or `chat`, as buyers' requests do. */
  @Column('text', { default: 'completions' })
  endpoint: 'completions' | 'chat';

  @Column('boolean', { default: false })
  stream: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
