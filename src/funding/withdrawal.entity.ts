import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { bigintColumn } from '../platform/database/bigint.transformer.js';
import { Participant } from '../participants/participant.entity.js';

export const WITHDRAWAL_STATUSES = ['pending', 'paid', 'rejected'] as const;
export type WithdrawalStatus = (typeof WITHDRAWAL_STATUSES)[number];

/**
 * A request to take cash out. It holds the amount with a pending ledger transfer
 * (`withdrawal:<id>:hold`) until an admin marks it paid (the hold is posted) or rejected (voided).
 */
@Entity('withdrawals')
@Index('withdrawals_participant_idx', ['participantId', 'createdAt'])
@Index('withdrawals_status_idx', ['status', 'createdAt'])
@Check('withdrawals_status_known', `status IN ('pending','paid','rejected')`)
export class Withdrawal {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid', { name: 'participant_id' })
  participantId: string;

  @ManyToOne(() => Participant, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'participant_id' })
  participant?: Participant;

  @Column('bigint', { transformer: bigintColumn })
  amount: bigint;

  @Column('text', { default: 'pending' })
  status: WithdrawalStatus;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { name: 'resolved_at', nullable: true })
  resolvedAt: Date | null;

  @Column('uuid', { name: 'resolved_by', nullable: true })
  resolvedBy: string | null;

  /** The admin's payout reference when paid, or the reason when rejected. */
  @Column('text', { nullable: true })
  note: string | null;
}
