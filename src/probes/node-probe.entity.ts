import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintColumn } from '../platform/database/bigint.transformer.js';

/**
 * One health probe of an inference node by the exchange: the evidence behind a breach at the close
 * of a delivery window (market-rules §5). Provider and model class are copied from the node at
 * probe time, so the evidence of a window is one index range and stays put if the node changes.
 */
@Entity('node_probes')
@Index('node_probes_provider_idx', ['providerId', 'modelClassId', 'probedAt'])
export class NodeProbeRow {
  @PrimaryColumn('bigint', { generated: 'identity', generatedIdentity: 'ALWAYS', transformer: bigintColumn })
  id: bigint;

  @Column('uuid', { name: 'node_id' })
  nodeId: string;

  @Column('uuid', { name: 'provider_id' })
  providerId: string;

  @Column('text', { name: 'model_class_id' })
  modelClassId: string;

  /** When the probe was sent. */
  @Column('timestamptz', { name: 'probed_at' })
  probedAt: Date;

  /** The node answered 2xx in time. */
  @Column('boolean')
  ok: boolean;

  /** Null when no HTTP answer came (refused, timed out). */
  @Column('integer', { name: 'status_code', nullable: true })
  statusCode: number | null;

  @Column('integer', { name: 'latency_ms', nullable: true })
  latencyMs: number | null;

  @Column('text', { nullable: true })
  error: string | null;
}
