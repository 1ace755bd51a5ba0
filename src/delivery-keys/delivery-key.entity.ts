import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import type { DeliveryKeyKind } from '../protocol/delivery-key-verifier.js';

/**
 * A delivery key that was issued: the record behind a signed token (its `jti` is the id), kept
 * so that it can be listed and revoked. The token itself is not stored; it is shown once. No
 * foreign key to deliveries: a key outlives nothing, and deliveries are another module's table.
 */
@Entity('delivery_keys')
@Index('delivery_keys_delivery_idx', ['deliveryId'])
// Serves the revocation list nodes poll: revoked keys not yet expired.
@Index('delivery_keys_revoked_idx', ['expiresAt'], { where: 'revoked_at IS NOT NULL' })
@Check('delivery_keys_kind_known', `kind IN ('buyer','audit')`)
export class DeliveryKeyRow {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'delivery_id' })
  deliveryId: string;

  @Column('uuid', { name: 'buyer_id' })
  buyerId: string;

  @Column('uuid', { name: 'provider_id' })
  providerId: string;

  @Column('text')
  kind: DeliveryKeyKind;

  /** The `kid` the token was signed with. */
  @Column('text', { name: 'signing_key_id' })
  signingKeyId: string;

  /** The token's `exp`, to the second. */
  @Column('timestamptz', { name: 'expires_at' })
  expiresAt: Date;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
