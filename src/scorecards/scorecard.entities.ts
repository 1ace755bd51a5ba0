import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintColumn } from '../platform/database/bigint.transformer.js';

/**
 * The scorecards' own tables (migration Scorecards1796900000100), written only by the fold job
 * (scorecard-fold.ts) and read by ScorecardsService. Declared so the schema check sees them.
 */
@Entity('scorecard_buckets')
@Index('scorecard_buckets_class_idx', ['modelClassId', 'bucketStart'])
@Index('scorecard_buckets_provider_idx', ['providerId', 'modelClassId', 'bucketStart'])
export class ScorecardBucketRow {
  @PrimaryColumn('uuid', { name: 'node_id', primaryKeyConstraintName: 'scorecard_buckets_pkey' })
  nodeId: string;

  @PrimaryColumn('text', { name: 'model_class_id', primaryKeyConstraintName: 'scorecard_buckets_pkey' })
  modelClassId: string;

  @PrimaryColumn('timestamptz', { name: 'bucket_start', primaryKeyConstraintName: 'scorecard_buckets_pkey' })
  bucketStart: Date;

  @Column('uuid', { name: 'provider_id' })
  providerId: string;

  @Column('bigint', { default: 0, transformer: bigintColumn })
  requests: bigint;

  @Column('bigint', { default: 0, transformer: bigintColumn })
  failures: bigint;

  @Column('bigint', { name: 'sla_misses', default: 0, transformer: bigintColumn })
  slaMisses: bigint;

  @Column('bigint', { name: 'output_tokens', default: 0, transformer: bigintColumn })
  outputTokens: bigint;

  @Column('bigint', { name: 'verified_tokens', default: 0, transformer: bigintColumn })
  verifiedTokens: bigint;

  /** Σ verified tokens × price in micro-USD per million tokens. */
  @Column('numeric', { name: 'spend_pico', precision: 40, scale: 0, default: 0 })
  spendPico: string;

  @Column('jsonb', { name: 'ttft_ms', default: {} })
  ttftMs: Record<string, number>;

  @Column('jsonb', { name: 'latency_ms', default: {} })
  latencyMs: Record<string, number>;

  @Column('jsonb', { name: 'tps_milli', default: {} })
  tpsMilli: Record<string, number>;

  @Column('bigint', { default: 0, transformer: bigintColumn })
  probes: bigint;

  @Column('bigint', { name: 'probes_ok', default: 0, transformer: bigintColumn })
  probesOk: bigint;

  @Column('bigint', { name: 'disputes_upheld', default: 0, transformer: bigintColumn })
  disputesUpheld: bigint;
}

@Entity('scorecard_provider_buckets')
@Index('scorecard_provider_buckets_class_idx', ['modelClassId', 'bucketStart'])
export class ScorecardProviderBucketRow {
  @PrimaryColumn('uuid', { name: 'provider_id', primaryKeyConstraintName: 'scorecard_provider_buckets_pkey' })
  providerId: string;

  @PrimaryColumn('text', { name: 'model_class_id', primaryKeyConstraintName: 'scorecard_provider_buckets_pkey' })
  modelClassId: string;

  @PrimaryColumn('timestamptz', { name: 'bucket_start', primaryKeyConstraintName: 'scorecard_provider_buckets_pkey' })
  bucketStart: Date;

  @Column('bigint', { name: 'deliveries_closed', default: 0, transformer: bigintColumn })
  deliveriesClosed: bigint;

  @Column('bigint', { name: 'deliveries_breached', default: 0, transformer: bigintColumn })
  deliveriesBreached: bigint;
}

/** How far the fold has read each source (a timestamp or an id, as text). */
@Entity('scorecard_cursors')
export class ScorecardCursorRow {
  @PrimaryColumn('text', { primaryKeyConstraintName: 'scorecard_cursors_pkey' })
  source: string;

  @Column('text')
  position: string;

  @Column('timestamptz', { name: 'updated_at', default: () => 'now()' })
  updatedAt: Date;
}

/** Source rows folded at or after their cursor, so a re-read folds none twice. */
@Entity('scorecard_folds')
@Index('scorecard_folds_ref_idx', ['source', 'refAt'])
export class ScorecardFoldRow {
  @PrimaryColumn('text', { primaryKeyConstraintName: 'scorecard_folds_pkey' })
  source: string;

  @PrimaryColumn('text', { primaryKeyConstraintName: 'scorecard_folds_pkey' })
  key: string;

  @Column('timestamptz', { name: 'ref_at' })
  refAt: Date;
}

export const SCORECARD_ENTITIES = [ScorecardBucketRow, ScorecardProviderBucketRow, ScorecardCursorRow, ScorecardFoldRow];
