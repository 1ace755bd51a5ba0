import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintColumn } from '../platform/database/bigint.transformer.js';

export const SETTLEMENT_KINDS = ['escrow', 'payout', 'close', 'dispute'] as const;
export type SettlementKind = (typeof SETTLEMENT_KINDS)[number];
export const SETTLEMENT_STATUSES = ['done', 'failed'] as const;
export type SettlementStatus = (typeof SETTLEMENT_STATUSES)[number];

/**
 * One step of settling a delivery, as an admin reads it: what kind of step, which money moved
 * (the amounts and the ledger transfer ids), and whether it worked. `key` is the step's business
 * key, from which its transfer ids derive, so a step that runs again finds itself done.
 */
@Entity('settlements')
@Check('settlements_kind_known', `kind IN ('escrow', 'payout', 'close', 'dispute')`)
@Check('settlements_status_known', `status IN ('done', 'failed')`)
@Index('settlements_delivery_idx', ['deliveryId', 'id'])
@Index('settlements_buyer_idx', ['buyerId', 'id'])
@Index('settlements_provider_idx', ['providerId', 'id'])
@Index('settlements_kind_idx', ['kind', 'status', 'id'])
export class SettlementRow {
  @PrimaryColumn('bigint', { generated: 'identity', generatedIdentity: 'ALWAYS', transformer: bigintColumn })
  id: bigint;

  @Index('settlements_key', { unique: true })
  @Column('text')
  key: string;

  @Column('text')
  kind: SettlementKind;

  @Column('uuid', { name: 'delivery_id' })
  deliveryId: string;

  @Column('uuid', { name: 'buyer_id' })
  buyerId: string;

  @Column('uuid', { name: 'provider_id' })
  providerId: string;

  /** Tokens the step settled (paid, taken-or-paid, or refunded; a dispute's: those resolved for the buyer). */
  @Column('bigint', { transformer: bigintColumn, default: 0 })
  tokens: bigint;

  /** Money by destination: escrow, buyerFee, providerPayout, providerFee, buyerRefund, penalty, bondReleased (micro-USD strings). */
  @Column('jsonb', { default: {} })
  amounts: Record<string, string>;

  @Column('text', { name: 'transfer_ids', array: true, default: '{}' })
  transferIds: string[];

  @Column('text')
  status: SettlementStatus;

  @Column('int', { default: 1 })
  attempts: number;

  @Column('text', { nullable: true })
  error: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
