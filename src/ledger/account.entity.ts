import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { bigintColumn } from '../platform/database/bigint.transformer.js';

export const PARTICIPANT_ACCOUNT_KINDS = ['available', 'held', 'escrow', 'margin', 'bond'] as const;
export type ParticipantAccountKind = (typeof PARTICIPANT_ACCOUNT_KINDS)[number];
export const SYSTEM_ACCOUNT_KINDS = ['external', 'fees', 'insurance', 'clearing'] as const;
export type SystemAccountKind = (typeof SYSTEM_ACCOUNT_KINDS)[number];
export type AccountKind = ParticipantAccountKind | SystemAccountKind;

/**
 * A ledger account's running totals. Written only by the ledger repository, under a row lock,
 * from the pure core's results. The CHECK constraints repeat the core's overdraft rule so that
 * not even a bug in the service can overdraw an account.
 */
@Entity('accounts')
@Index('accounts_participant_kind_key', ['participantId', 'kind'], { unique: true, where: 'participant_id IS NOT NULL' })
@Index('accounts_system_kind_key', ['kind', 'shard'], { unique: true, where: 'participant_id IS NULL' })
@Check('accounts_totals_non_negative', 'debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0')
@Check('accounts_debits_within_credits', '(flags & 1) = 0 OR debits_posted + debits_pending <= credits_posted')
@Check('accounts_credits_within_debits', '(flags & 2) = 0 OR credits_posted + credits_pending <= debits_posted')
@Check('accounts_shard_of_fees', `shard = 0 OR (shard BETWEEN 1 AND 1023 AND kind = 'fees' AND participant_id IS NULL)`)
@Check('accounts_kind_known', `kind IN ('available','held','escrow','margin','bond','external','fees','insurance','clearing')`)
export class AccountRow {
  @PrimaryColumn('bigint', { generated: 'identity', generatedIdentity: 'ALWAYS', transformer: bigintColumn })
  id: bigint;

  @Column('uuid', { name: 'participant_id', nullable: true })
  participantId: string | null;

  // Named, not imported: participants/ depends on the ledger, never the other way round.
  @ManyToOne('Participant', { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'participant_id' })
  participant?: unknown;

  @Column('text')
  kind: AccountKind;

  @Column('integer', { default: 0 })
  flags: number;

  /** Which of the fee account's shards (0 for every other account): see LedgerService.feeAccount. */
  @Column('smallint', { default: 0 })
  shard: number;

  @Column('bigint', { name: 'debits_pending', default: 0, transformer: bigintColumn })
  debitsPending: bigint;

  @Column('bigint', { name: 'debits_posted', default: 0, transformer: bigintColumn })
  debitsPosted: bigint;

  @Column('bigint', { name: 'credits_pending', default: 0, transformer: bigintColumn })
  creditsPending: bigint;

  @Column('bigint', { name: 'credits_posted', default: 0, transformer: bigintColumn })
  creditsPosted: bigint;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
