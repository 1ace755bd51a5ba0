import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintColumn } from '../platform/database/bigint.transformer.js';

/**
 * One trade: a taker order met a resting (maker) order, at the maker's price. The id is the
 * instrument's book sequence and the trade's place in that command, so a fill's ledger transfers
 * (`fill:<id>:...`) are named once and for all.
 */
@Entity('fills')
@Index('fills_instrument_idx', ['instrument', 'seq'])
@Index('fills_buyer_idx', ['buyerId', 'createdAt'])
@Index('fills_seller_idx', ['sellerId', 'createdAt'])
export class FillRow {
  /** `<instrument>:<seq>:<n>`. */
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  instrument: string;

  @Column('bigint', { transformer: bigintColumn })
  seq: bigint;

  @Column('bigint', { name: 'maker_order_id', transformer: bigintColumn })
  makerOrderId: bigint;

  @Column('bigint', { name: 'taker_order_id', transformer: bigintColumn })
  takerOrderId: bigint;

  @Column('uuid', { name: 'buyer_id' })
  buyerId: string;

  @Column('uuid', { name: 'seller_id' })
  sellerId: string;

  @Column('text', { name: 'taker_side' })
  takerSide: 'buy' | 'sell';

  @Column('bigint', { name: 'price_ticks', transformer: bigintColumn })
  priceTicks: bigint;

  @Column('bigint', { name: 'quantity_lots', transformer: bigintColumn })
  quantityLots: bigint;

  @Column('bigint', { name: 'notional_micros', transformer: bigintColumn })
  notionalMicros: bigint;

  @Column('bigint', { name: 'buyer_fee_micros', transformer: bigintColumn })
  buyerFeeMicros: bigint;

  /** Charged when the seller is paid for delivery (settlement), not at the fill. */
  @Column('bigint', { name: 'seller_fee_micros', transformer: bigintColumn })
  sellerFeeMicros: bigint;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
