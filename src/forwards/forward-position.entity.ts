import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Instrument } from '../markets/instrument.entity.js';
import { Participant } from '../participants/participant.entity.js';
import { bigintColumn } from '../platform/database/bigint.transformer.js';

/**
 * A participant's net position on a forward contract and the margin that backs it (market-rules
 * §6). Written only by the contract's order writer, in the same commit as the fills, marks and
 * expiry that change it; `margin_micros` is this contract's share of the participant's margin account.
 */
@Entity('forward_positions')
@Index('forward_positions_participant_idx', ['participantId'])
@Index('forward_positions_in_call_idx', ['instrument'], { where: 'in_call' })
@Check('forward_positions_margin_not_negative', 'margin_micros >= 0 AND margin_basis_micros >= 0')
@Check('forward_positions_opened', '(lots = 0) = (opened_seq = 0)')
export class ForwardPositionRow {
  @PrimaryColumn('text')
  instrument: string;

  @ManyToOne(() => Instrument, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'instrument', referencedColumnName: 'symbol' })
  instrumentRow?: Instrument;

  @PrimaryColumn('uuid', { name: 'participant_id' })
  participantId: string;

  @ManyToOne(() => Participant, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'participant_id' })
  participant?: Participant;

  /** Net lots: long > 0, short < 0. */
  @Column('bigint', { transformer: bigintColumn })
  lots: bigint;

  /** Σ trade price × lots of the open lots (ticks × lots): the average price's numerator. */
  @Column('numeric', { name: 'cost_ticks', precision: 40, scale: 0 })
  costTicks: string;

  @Column('bigint', { name: 'margin_basis_micros', transformer: bigintColumn })
  marginBasisMicros: bigint;

  @Column('bigint', { name: 'opened_seq', transformer: bigintColumn })
  openedSeq: bigint;

  @Column('bigint', { name: 'margin_micros', transformer: bigintColumn })
  marginMicros: bigint;

  @Column('bigint', { name: 'variation_micros', transformer: bigintColumn })
  variationMicros: bigint;

  @Column('boolean', { name: 'in_call' })
  inCall: boolean;

  @Column('bigint', { name: 'lots_at_mark', transformer: bigintColumn })
  lotsAtMark: bigint;

  @Column('numeric', { name: 'traded_ticks_since_mark', precision: 40, scale: 0 })
  tradedTicksSinceMark: string;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
