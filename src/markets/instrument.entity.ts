import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { bigintColumn } from '../platform/database/bigint.transformer.js';
import type { InstrumentKind, InstrumentStatus } from './instrument-terms.js';
import { ModelClass } from './model-class.entity.js';

/**
 * One order book: the spot market of a model class, or a forward on one delivery period. Terms
 * never change once listed (resting orders were priced on them); only the status does. The
 * CHECK constraints repeat the rules of `instrument-terms.ts` and `price.ts`.
 */
@Entity('instruments')
@Index('instruments_model_class_idx', ['modelClassId', 'kind'])
@Check('instruments_kind_known', `kind IN ('spot','forward')`)
@Check('instruments_status_known', `status IN ('active','halted')`)
@Check('instruments_symbol_derived', `symbol = upper(model_class_id) || '-' || coalesce(delivery_period, 'SPOT')`)
@Check(
  'instruments_grid_exact',
  'tick_micro_usd_per_mtok > 0 AND lot_tokens > 0 AND (tick_micro_usd_per_mtok * lot_tokens) % 1000000 = 0',
)
@Check('instruments_fees_range', 'maker_fee_bps BETWEEN 0 AND 1000 AND taker_fee_bps BETWEEN 0 AND 1000')
@Check('instruments_collar_range', 'collar_bps BETWEEN 0 AND 10000')
@Check(
  'instruments_terms_of_kind',
  `(kind = 'spot' AND spot_window_seconds IS NOT NULL AND spot_window_seconds > 0
     AND delivery_period IS NULL AND delivery_start IS NULL AND delivery_end IS NULL AND last_trade_at IS NULL)
   OR (kind = 'forward' AND spot_window_seconds IS NULL
     AND delivery_period IS NOT NULL AND delivery_start IS NOT NULL AND delivery_end IS NOT NULL AND last_trade_at IS NOT NULL
     AND delivery_start < delivery_end AND last_trade_at <= delivery_start)`,
)
@Check('instruments_bond_range', 'bond_bps BETWEEN 0 AND 10000')
@Check(
  'instruments_margin_of_kind',
  `(kind = 'spot' AND initial_margin_bps IS NULL AND maintenance_margin_bps IS NULL)
   OR (kind = 'forward' AND initial_margin_bps IS NOT NULL AND maintenance_margin_bps IS NOT NULL
     AND maintenance_margin_bps BETWEEN 1 AND initial_margin_bps AND initial_margin_bps <= 10000)`,
)
@Check('instruments_halt_recorded', `(status = 'halted') = (halted_at IS NOT NULL AND halt_reason IS NOT NULL)`)
export class Instrument {
  /** `<MODEL>-SPOT`, `<MODEL>-<YYYY>-<MM>` or `<MODEL>-<YYYY>-W<ww>`. */
  @PrimaryColumn('text')
  symbol: string;

  @Column('text')
  kind: InstrumentKind;

  @Column('text', { name: 'model_class_id' })
  modelClassId: string;

  @ManyToOne(() => ModelClass, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'model_class_id' })
  modelClass?: ModelClass;

  /** Micro-USD per million tokens: 1000 = a tick of 0.001 USD/MTok. */
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

  /** Spot only: how long after a fill the buyer may consume it. */
  @Column('integer', { name: 'spot_window_seconds', nullable: true })
  spotWindowSeconds: number | null;

  /** The provider's performance bond in bps of notional: on a spot sell, or on a forward short's deliveries. */
  @Column('integer', { name: 'bond_bps' })
  bondBps: number;

  /** Forward only: margin rates in bps of notional (market-rules §6). */
  @Column('integer', { name: 'initial_margin_bps', nullable: true })
  initialMarginBps: number | null;

  @Column('integer', { name: 'maintenance_margin_bps', nullable: true })
  maintenanceMarginBps: number | null;

  /** Forward only: `2027-01` or `2027-W03`; delivery runs [delivery_start, delivery_end). */
  @Column('text', { name: 'delivery_period', nullable: true })
  deliveryPeriod: string | null;

  @Column('timestamptz', { name: 'delivery_start', nullable: true })
  deliveryStart: Date | null;

  @Column('timestamptz', { name: 'delivery_end', nullable: true })
  deliveryEnd: Date | null;

  @Column('timestamptz', { name: 'last_trade_at', nullable: true })
  lastTradeAt: Date | null;

  @Column('text', { default: 'active' })
  status: InstrumentStatus;

  @Column('text', { name: 'halt_reason', nullable: true })
  haltReason: string | null;

  @Column('timestamptz', { name: 'halted_at', nullable: true })
  haltedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
