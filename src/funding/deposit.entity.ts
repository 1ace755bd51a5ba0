import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { bigintColumn } from '../platform/database/bigint.transformer.js';
import { Participant } from '../participants/participant.entity.js';

/** Cash an admin recorded as received from outside; its ledger transfer is `deposit:<id>`. */
@Entity('deposits')
@Index('deposits_participant_idx', ['participantId', 'createdAt'])
export class Deposit {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid', { name: 'participant_id' })
  participantId: string;

  @ManyToOne(() => Participant, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'participant_id' })
  participant?: Participant;

  @Column('bigint', { transformer: bigintColumn })
  amount: bigint;

  /** The bank or payment reference the admin gave. */
  @Column('text', { nullable: true })
  reference: string | null;

  @Column('uuid', { name: 'recorded_by' })
  recordedBy: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
