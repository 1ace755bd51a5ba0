import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * A key tokex signs delivery keys with (Ed25519). The newest row not retired signs; a retired
 * row stops signing but stays in the published JWKS for 7 days, so the keys it already signed
 * keep verifying at the nodes until they expire. Rows are never deleted by the service.
 */
@Entity('signing_keys')
export class SigningKeyRow {
  /** RFC 7638 thumbprint of the public key: the JWS `kid`. */
  @PrimaryColumn('text')
  kid: string;

  @Column('text', { default: 'EdDSA' })
  algorithm: string;

  /** The public half as a JWK (`kty`, `crv`, `x`), as published at /v1/.well-known/jwks.json. */
  @Column('jsonb', { name: 'public_jwk' })
  publicJwk: Record<string, unknown>;

  /**
   * PEM "PRIVATE KEY" (PKCS #8), sealed with SIGNING_KEYS_ENCRYPTION_KEY when one is set
   * (signing-key-vault.ts). Whoever reads this column and has that key can mint delivery keys.
   */
  @Column('text', { name: 'private_pkcs8' })
  privatePkcs8: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { name: 'retired_at', nullable: true })
  retiredAt: Date | null;
}
