import { Check, Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintColumn } from '../platform/database/bigint.transformer.js';

export const DELIVERY_STATUSES = ['open', 'closed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
export const DELIVERY_OUTCOMES = ['delivered', 'take_or_pay', 'breach'] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

/**
 * What one spot fill obliges (market-rules §5): the provider serves `quantity_tokens` to the buyer
 * within the window, the buyer's notional waits in escrow, and the provider's bond for those tokens
 * backs the promise. Created in the fill's own transaction. The token counters:
 * `paid_tokens` (delivered and paid, only grows), `disputed_tokens` (held out until an admin
 * resolves them), `refunded_tokens` (resolved for the buyer in disputes: gone for good, only grows);
 * what is left at the window's close is paid (take-or-pay) or refunded (breach).
 */
@Entity('deliveries')
@Check('deliveries_status_known', `status IN ('open', 'closed')`)
@Check('deliveries_outcome_known', `outcome IS NULL OR outcome IN ('delivered', 'take_or_pay', 'breach')`)
@Check('deliveries_tokens_within_quantity', `paid_tokens >= 0 AND disputed_tokens >= 0 AND refunded_tokens >= 0 AND paid_tokens + disputed_tokens + refunded_tokens <= quantity_tokens`)
@Check('deliveries_escrow_not_overspent', `paid_micros + fee_paid_micros + refunded_micros <= notional_micros AND penalty_micros <= bond_micros`)
@Index('deliveries_buyer_idx', ['buyerId', 'createdAt'])
@Index('deliveries_provider_idx', ['providerId', 'createdAt'])
@Index('deliveries_open_window_idx', ['windowEnd', 'id'], { where: `status = 'open'` })
export class DeliveryRow {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index('deliveries_fill_key', { unique: true })
  @Column('text', { name: 'fill_id' })
  fillId: string;

  @Column('text')
  instrument: string;

  @Column('text', { name: 'model_class_id' })
  modelClassId: string;

  @Column('uuid', { name: 'buyer_id' })
  buyerId: string;

  @Column('uuid', { name: 'provider_id' })
  providerId: string;

  @Column('bigint', { name: 'quantity_tokens', transformer: bigintColumn })
  quantityTokens: bigint;

  @Column('bigint', { name: 'price_ticks', transformer: bigintColumn })
  priceTicks: bigint;

  /** The buyer's escrow for this delivery. */
  @Column('bigint', { name: 'notional_micros', transformer: bigintColumn })
  notionalMicros: bigint;

  /** The provider's fee, taken from its payouts in proportion to the tokens paid. */
  @Column('bigint', { name: 'seller_fee_micros', transformer: bigintColumn })
  sellerFeeMicros: bigint;

  /** The part of the provider's bond that backs this delivery. */
  @Column('bigint', { name: 'bond_micros', transformer: bigintColumn })
  bondMicros: bigint;

  @Column('timestamptz', { name: 'window_start' })
  windowStart: Date;

  @Column('timestamptz', { name: 'window_end' })
  windowEnd: Date;

  /** Verified billable tokens recorded against the delivery (capped at the quantity when paid). */
  @Column('bigint', { name: 'delivered_tokens', transformer: bigintColumn, default: 0 })
  deliveredTokens: bigint;

  @Column('bigint', { name: 'paid_tokens', transformer: bigintColumn, default: 0 })
  paidTokens: bigint;

  @Column('bigint', { name: 'disputed_tokens', transformer: bigintColumn, default: 0 })
  disputedTokens: bigint;

  /** Tokens an admin resolved for the buyer in disputes: refunded with a penalty, never paid (market-rules §7). */
  @Column('bigint', { name: 'refunded_tokens', transformer: bigintColumn, default: 0 })
  refundedTokens: bigint;

  /** Escrow paid out so far: to the provider, and as its fee. */
  @Column('bigint', { name: 'paid_micros', transformer: bigintColumn, default: 0 })
  paidMicros: bigint;

  @Column('bigint', { name: 'fee_paid_micros', transformer: bigintColumn, default: 0 })
  feePaidMicros: bigint;

  @Column('bigint', { name: 'refunded_micros', transformer: bigintColumn, default: 0 })
  refundedMicros: bigint;

  @Column('bigint', { name: 'penalty_micros', transformer: bigintColumn, default: 0 })
  penaltyMicros: bigint;

  @Column('text', { default: 'open' })
  status: DeliveryStatus;

  @Column('text', { nullable: true })
  outcome: DeliveryOutcome | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { name: 'closed_at', nullable: true })
  closedAt: Date | null;
}
