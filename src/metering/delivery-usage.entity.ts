import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintColumn } from '../platform/database/bigint.transformer.js';

/**
 * Verified billable tokens served under a delivery: what metering accepted (a verified batch's
 * records for the delivery, or the provider's share of a resolved dispute), for settlement to pay.
 * Metering writes it (verified-usage.repository.ts); the id is the usage's own business key
 * (`batch:<node>:<batch>:<delivery>`, `dispute:<id>`; rows written before issue 15 are per request,
 * `usage:<node>:<request>`), so usage recorded twice counts once. Settlement reads the unpaid rows, and
 * has the rows a payout paid marked through the same repository, in the payout's transaction.
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
