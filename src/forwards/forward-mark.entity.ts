import { Check, Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Instrument } from '../markets/instrument.entity.js';
import { bigintColumn } from '../platform/database/bigint.transformer.js';

/**
 * One daily mark of a forward contract (market-rules §6): at most one per contract and UTC day,
 * which is what makes the mark, and the variation margin it settles, happen exactly once. The
 * final mark at expiry is the settlement price. `inputs` keeps what the price was chosen from.
 */
@Entity('forward_marks')
@Check('forward_marks_source_known', `source IN ('trades', 'mid', 'previous', 'index', 'override')`)
@Check('forward_marks_price_positive', 'price_ticks > 0')
export class ForwardMarkRow {
  @PrimaryColumn('text')
  instrument: string;

  @ManyToOne(() => Instrument, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'instrument', referencedColumnName: 'symbol' })
  instrumentRow?: Instrument;

  /** The UTC day the mark closes (taken at 00:00 UTC after it). */
  @PrimaryColumn('date')
  day: string;

  @Column('bigint', { name: 'price_ticks', transformer: bigintColumn })
  priceTicks: bigint;

  @Column('text')
  source: string;

  @Column('bigint', { name: 'previous_price_ticks', nullable: true, transformer: bigintColumn })
  previousPriceTicks: bigint | null;

  /** The final mark: the contract's settlement price. */
  @Column('boolean', { name: 'final', default: false })
  final: boolean;

  @Column('jsonb')
  inputs: Record<string, unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
