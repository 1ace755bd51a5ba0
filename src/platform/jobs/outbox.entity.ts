import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintColumn } from '../database/bigint.transformer.js';

export const OUTBOX_STATUSES = ['pending', 'done', 'failed'] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];

/**
 * Work that must happen, written in the same transaction as its cause. The sweeper enqueues
 * pending rows on BullMQ (again and again until done, since Redis may forget); the job marks its
 * row done in the same transaction as its effects.
 */
@Entity('outbox')
@Index('outbox_job_key', ['jobName', 'jobKey'], { unique: true })
@Index('outbox_due_idx', ['dispatchAfter'], { where: `status = 'pending'` })
@Check('outbox_status_known', `status IN ('pending','done','failed')`)
export class OutboxRow {
  @PrimaryColumn('bigint', { generated: 'identity', generatedIdentity: 'ALWAYS', transformer: bigintColumn })
  id: bigint;

  @Column('text', { name: 'job_name' })
  jobName: string;

  /** The business key: with the job name it makes the BullMQ job id, so enqueuing twice is harmless. */
  @Column('text', { name: 'job_key' })
  jobKey: string;

  @Column('jsonb')
  payload: unknown;

  @Column('text', { default: 'pending' })
  status: OutboxStatus;

  @Column('timestamptz', { name: 'dispatch_after', default: () => 'now()' })
  dispatchAfter: Date;

  @Column('integer', { name: 'dispatch_count', default: 0 })
  dispatchCount: number;

  @Column('integer', { default: 0 })
  attempts: number;

  @Column('text', { name: 'last_error', nullable: true })
  lastError: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { name: 'completed_at', nullable: true })
  completedAt: Date | null;
}
