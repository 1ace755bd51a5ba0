import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { bigintColumn } from '../platform/database/bigint.transformer.js';
import { Instrument } from '../markets/instrument.entity.js';

/** Where an instrument's book stands: its last applied command and its collar reference price. */
@Entity('instrument_books')
export class InstrumentBookRow {
  @PrimaryColumn('text')
  instrument: string;

  @OneToOne(() => Instrument, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'instrument', referencedColumnName: 'symbol' })
  instrumentRow?: Instrument;

  @Column('bigint', { name: 'last_seq', default: 0, transformer: bigintColumn })
  lastSeq: bigint;

  @Column('bigint', { name: 'reference_price_ticks', nullable: true, transformer: bigintColumn })
  referencePriceTicks: bigint | null;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
