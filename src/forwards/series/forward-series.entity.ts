import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { ModelClass } from '../../markets/model-class.entity.js';
import { bigintColumn } from '../../platform/database/bigint.transformer.js';
import type { SeriesCadence } from './listing-plan.js';

/**
 * A forward series (market-rules §6): which contracts the worker lists for a model class, how far
 * ahead, and on what terms. The terms are stored resolved (defaults filled in when the series was
 * created), so a later change of the defaults never changes what a series lists. The CHECKs repeat
 * the instrument's, so a series can only ever list valid forwards.
 */
@Entity('forward_series')
@Index('forward_series_model_class_cadence_key', ['modelClassId', 'cadence'], { unique: true })
@Check('forward_series_cadence_known', `cadence IN ('monthly','weekly')`)
@Check(
  'forward_series_periods_ahead_range',
  `(cadence = 'monthly' AND periods_ahead BETWEEN 1 AND 12) OR (cadence = 'weekly' AND periods_ahead BETWEEN 1 AND 8)`,
)
@Check('forward_series_margin_range', 'maintenance_margin_bps BETWEEN 1 AND initial_margin_bps AND initial_margin_bps <= 10000')
@Check('forward_series_bond_range', 'bond_bps BETWEEN 0 AND 10000')
@Check(
  'forward_series_grid_exact',
  'tick_micro_usd_per_mtok > 0 AND lot_tokens > 0 AND (tick_micro_usd_per_mtok * lot_tokens) % 1000000 = 0',
)
@Check('forward_series_fees_range', 'maker_fee_bps BETWEEN 0 AND 1000 AND taker_fee_bps BETWEEN 0 AND 1000')
@Check('forward_series_collar_range', 'collar_bps BETWEEN 0 AND 10000')
export class ForwardSeriesRow {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('text', { name: 'model_class_id' })
  modelClassId: string;

  @ManyToOne(() => ModelClass, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'model_class_id' })
  modelClass?: ModelClass;

  @Column('text')
  cadence: SeriesCadence;

  /** How many periods ahead of now the series keeps listed (monthly 1..12, weekly 1..8). */
  @Column('integer', { name: 'periods_ahead' })
  periodsAhead: number;

  @Column('integer', { name: 'initial_margin_bps' })
  initialMarginBps: number;

  @Column('integer', { name: 'maintenance_margin_bps' })
  maintenanceMarginBps: number;

  @Column('integer', { name: 'bond_bps' })
  bondBps: number;

  @Column('bigint', { name: 'tick_micro_usd_per_mtok', transformer: bigintColumn })
  tickMicroUsdPerMTok: bigint;

  @Column('bigint', { name: 'lot_tokens', transformer: bigintColumn })
  lotTokens: bigint;

  @Column('integer', { name: 'maker_fee_bps' })
  makerFeeBps: number;

  @Column('integer', { name: 'taker_fee_bps' })
  takerFeeBps: number;

  @Column('integer', { name: 'collar_bps' })
  collarBps: number;

  /** An inactive series lists nothing new; contracts it listed trade on. */
  @Column('boolean', { default: true })
  active: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
