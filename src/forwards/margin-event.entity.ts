import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Instrument } from '../markets/instrument.entity.js';
import { Participant } from '../participants/participant.entity.js';
import { bigintColumn } from '../platform/database/bigint.transformer.js';

/**
 * What happened to a participant's margin on a contract (market-rules §6): a call raised by a mark,
 * cured by a top-up or a smaller position, a default that went through the waterfall, or a cut to
 * a winner's variation margin. Written in the commit that made it happen; never changed.
 */
@Entity('forward_margin_events')
@Index('forward_margin_events_participant_idx', ['participantId', 'id'])
@Index('forward_margin_events_instrument_idx', ['instrument', 'id'])
@Check('forward_margin_events_kind_known', `event IN ('raised', 'cured', 'defaulted', 'cut')`)
export class MarginEventRow {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id: string;

  @Column('text')
  instrument: string;

  @ManyToOne(() => Instrument, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'instrument', referencedColumnName: 'symbol' })
  instrumentRow?: Instrument;

  @Column('uuid', { name: 'participant_id' })
  participantId: string;

  @ManyToOne(() => Participant, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'participant_id' })
  participant?: Participant;

  @Column('text')
  event: string;

  /** The mark's day, for events a mark raised. */
  @Column('date', { nullable: true })
  day: string | null;

  @Column('bigint', { name: 'equity_micros', transformer: bigintColumn })
  equityMicros: bigint;

  @Column('bigint', { name: 'requirement_micros', transformer: bigintColumn })
  requirementMicros: bigint;

  /** What a default left unpaid by the participant, or what a cut withheld from a winner. */
  @Column('bigint', { name: 'amount_micros', nullable: true, transformer: bigintColumn })
  amountMicros: bigint | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
