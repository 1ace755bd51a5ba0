import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintColumn } from '../platform/database/bigint.transformer.js';

/**
 * Verified billable tokens served under a delivery, as metering recorded them. The id is the
 * usage's own business key (a request id, or a verified batch's), so a record sent twice is
 * counted once. A payout marks the rows it paid, in its own transaction.
 */
@Entity('delivery_usage')
@Check('delivery_usage_tokens_positive', `tokens > 0`)
@Index('delivery_usage_unpaid_idx', ['deliveryId'], { where: 'payout_id IS NULL' })
export class DeliveryUsageRow {
  @PrimaryColumn('text')
  id: string;

  @Column('uuid', { name: 'delivery_id' })
  deliveryId: string;

  @Column('bigint', { transformer: bigintColumn })
  tokens: bigint;

  /** The settlement that paid it; NULL until then. */
  @Column('bigint', { name: 'payout_id', nullable: true, transformer: bigintColumn })
  payoutId: bigint | null;

  @CreateDateColumn({ name: 'recorded_at', type: 'timestamptz' })
  recordedAt: Date;
}
