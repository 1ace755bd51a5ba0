import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { bigintColumn } from '../platform/database/bigint.transformer.js';
import { Instrument } from '../markets/instrument.entity.js';
import { Participant } from '../participants/participant.entity.js';

import { ORDER_STATUSES, type OrderStatus } from './core/live-order.js';

export { ORDER_STATUSES, type OrderStatus };

/**
 * An accepted order and where it stands. Written only by its instrument's writer, in the same
 * transaction as the book command that changed it; an order the engine rejected is never stored.
 * `priority_seq` is the book sequence at which the order took its current place in its price
 * level: open orders sorted by price then priority_seq rebuild the book exactly.
 */
@Entity('orders')
@Index('orders_client_order_id_key', ['participantId', 'clientOrderId'], { unique: true, where: 'client_order_id IS NOT NULL' })
@Index('orders_open_idx', ['instrument', 'side', 'priceTicks', 'prioritySeq'], { where: `status = 'open'` })
@Index('orders_participant_idx', ['participantId', 'id'])
@Check('orders_status_known', `status IN ('open','filled','cancelled','expired')`)
@Check('orders_side_known', `side IN ('buy','sell')`)
@Check('orders_type_known', `type IN ('limit','market')`)
@Check('orders_tif_known', `time_in_force IN ('GTC','IOC','FOK','GTD')`)
@Check('orders_quantities', 'quantity_lots > 0 AND filled_lots >= 0 AND filled_lots <= quantity_lots')
@Check('orders_money_non_negative', 'hold_micros >= 0 AND taker_notional_micros >= 0 AND maker_notional_micros >= 0 AND fees_micros >= 0')
export class OrderRow {
  @PrimaryColumn('bigint', { transformer: bigintColumn })
  id: bigint;

  @Column('uuid', { name: 'participant_id' })
  participantId: string;

  @ManyToOne(() => Participant, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'participant_id' })
  participant?: Participant;

  @Column('text')
  instrument: string;

  @ManyToOne(() => Instrument, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'instrument', referencedColumnName: 'symbol' })
  instrumentRow?: Instrument;

  @Column('text', { name: 'client_order_id', nullable: true })
  clientOrderId: string | null;

  @Column('text')
  side: 'buy' | 'sell';

  @Column('text')
  type: 'limit' | 'market';

  @Column('text', { name: 'time_in_force' })
  timeInForce: 'GTC' | 'IOC' | 'FOK' | 'GTD';

  /** The limit price; for a market order, its collar limit (the worst price it could fill at). */
  @Column('bigint', { name: 'price_ticks', transformer: bigintColumn })
  priceTicks: bigint;

  @Column('bigint', { name: 'quantity_lots', transformer: bigintColumn })
  quantityLots: bigint;

  @Column('bigint', { name: 'filled_lots', default: 0, transformer: bigintColumn })
  filledLots: bigint;

  @Column('text', { default: 'open' })
  status: OrderStatus;

  /** Why it left the book unfilled: the engine's cancel reason, or `expired`. */
  @Column('text', { name: 'close_reason', nullable: true })
  closeReason: string | null;

  @Column('boolean', { name: 'post_only', default: false })
  postOnly: boolean;

  @Column('text', { name: 'self_trade_prevention' })
  selfTradePrevention: string;

  @Column('timestamptz', { name: 'expires_at', nullable: true })
  expiresAt: Date | null;

  /** Cash the order holds now: a buy's hold on `held`, a sell's performance bond on `bond`. */
  @Column('bigint', { name: 'hold_micros', default: 0, transformer: bigintColumn })
  holdMicros: bigint;

  /** Cumulative notional filled as taker and as maker: fees are computed on these (orders/core). */
  @Column('bigint', { name: 'taker_notional_micros', default: 0, transformer: bigintColumn })
  takerNotionalMicros: bigint;

  @Column('bigint', { name: 'maker_notional_micros', default: 0, transformer: bigintColumn })
  makerNotionalMicros: bigint;

  @Column('bigint', { name: 'fees_micros', default: 0, transformer: bigintColumn })
  feesMicros: bigint;

  @Column('bigint', { name: 'accepted_seq', transformer: bigintColumn })
  acceptedSeq: bigint;

  @Column('bigint', { name: 'priority_seq', transformer: bigintColumn })
  prioritySeq: bigint;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
