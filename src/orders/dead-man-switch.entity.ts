import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn } from 'typeorm';
import { Participant } from '../participants/participant.entity.js';

/**
 * A bot's dead-man switch (`POST /v1/orders/cancel-all-after`): unless renewed before `deadline`,
 * all of the participant's open orders are cancelled. Kept in PostgreSQL so that a restart does
 * not disarm it.
 */
@Entity('dead_man_switches')
export class DeadManSwitchRow {
  @PrimaryColumn('uuid', { name: 'participant_id' })
  participantId: string;

  @OneToOne(() => Participant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'participant_id' })
  participant?: Participant;

  @Column('timestamptz')
  deadline: Date;
}
