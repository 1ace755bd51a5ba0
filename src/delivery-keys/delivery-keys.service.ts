import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { isUUID } from 'class-validator';
import { calculateJwkThumbprint, importPKCS8, type JSONWebKeySet, type JWK, SignJWT } from 'jose';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import { invalid } from '../common/domain-error.js';
import { SigningKeyVault } from './signing-key-vault.js';
import {
  DELIVERY_KEY_ALGORITHM,
  DELIVERY_KEY_ISSUER,
  DELIVERY_KEY_KINDS,
  type DeliveryKeyKind,
  type DeliveryKeyRevocationList,
} from '../protocol/delivery-key-verifier.js';

export interface DeliveryKeyIssue {
  readonly deliveryId: string;
  readonly buyerId: string;
  readonly providerId: string;
  readonly modelClassId: string;
  readonly kind: DeliveryKeyKind;
  /** Truncated to the second, as the token's `exp`. */
  readonly expiresAt: Date;
}

export interface IssuedDeliveryKey {
  readonly id: string;
  /** The JWT: shown to the buyer once, never stored. */
  readonly token: string;
  readonly expiresAt: Date;
}

/** An issued key as listed (never the token). */
export interface DeliveryKeyRecord {
  readonly id: string;
  readonly deliveryId: string;
  readonly buyerId: string;
  readonly providerId: string;
  readonly kind: DeliveryKeyKind;
  readonly signingKeyId: string;
  readonly expiresAt: Date;
  readonly revokedAt: Date | null;
  readonly createdAt: Date;
}

interface SigningKey {
  readonly kid: string;
  readonly privateKey: Awaited<ReturnType<typeof importPKCS8>>;
}

interface DeliveryKeyDbRow {
  id: string;
  delivery_id: string;
  buyer_id: string;
  provider_id: string;
  kind: DeliveryKeyKind;
  signing_key_id: string;
  expires_at: Date;
  revoked_at: Date | null;
  created_at: Date;
}

export const SIGNING_KEYS_LOCK = `SELECT pg_advisory_xact_lock(hashtext('tokex:signing-keys'))`;
const NEWEST_SIGNING_KEY = `SELECT kid, private_pkcs8 FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid DESC LIMIT 1`;
// A rotation made by another process is picked up within this long, without a restart.
const SIGNING_KEY_CACHE_MS = 60_000;
// Keys signed just before a rotation stay verifiable at the nodes until they expire.
const RETIRED_KEY_PUBLISHED_FOR = '7 days';

const record = (r: DeliveryKeyDbRow): DeliveryKeyRecord => ({
  id: r.id,
  deliveryId: r.delivery_id,
  buyerId: r.buyer_id,
  providerId: r.provider_id,
  kind: r.kind,
  signingKeyId: r.signing_key_id,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
  createdAt: r.created_at,
});

/**
 * Issues, lists and revokes delivery keys, and publishes what nodes verify them with (the JWKS
 * and the revocation list). Verification itself is delivery-key-verifier.ts, shared with the
 * node agent. HTTP routes belong to the deliveries module.
 */
@Injectable()
export class DeliveryKeysService {
  private cached: { key: Promise<SigningKey>; loadedAt: number } | null = null;
  private lastImported: SigningKey | null = null;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    /** Seals private keys for storage and opens them (signing-key-vault.ts); none: plaintext. */
    private readonly vault: SigningKeyVault = new SigningKeyVault(null),
  ) {}

  /**
   * Records a key and signs it. With `manager`, the row is written in the caller's transaction:
   * hand the token out only after that commits, or it names a row that does not exist and cannot
   * be revoked.
   */
  async issue(input: DeliveryKeyIssue, manager?: EntityManager): Promise<IssuedDeliveryKey> {
    for (const field of ['deliveryId', 'buyerId', 'providerId'] as const) {
      if (!isUUID(input[field])) throw invalid('VALIDATION_FAILED', `${field} must be a UUID`, { fields: [field] });
    }
    if (!DELIVERY_KEY_KINDS.includes(input.kind)) {
      throw invalid('VALIDATION_FAILED', `kind must be one of ${DELIVERY_KEY_KINDS.join(', ')}`, { fields: ['kind'] });
    }
    const issuedAt = Math.floor(Date.now() / 1000);
    const expiresAtSeconds = Math.floor(input.expiresAt.getTime() / 1000);
    if (!(expiresAtSeconds > issuedAt)) {
      throw invalid('DELIVERY_KEY_EXPIRY_INVALID', 'a delivery key must expire in the future', { fields: ['expiresAt'] });
    }
    const expiresAt = new Date(expiresAtSeconds * 1000);

    const signingKey = await this.signingKey();
    const id = randomUUID();
    // The row first: a signed token without its row could never be revoked.
    await (manager ?? this.dataSource.manager).query(
      `INSERT INTO delivery_keys (id, delivery_id, buyer_id, provider_id, kind, signing_key_id, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [id, input.deliveryId, input.buyerId, input.providerId, input.kind, signingKey.kid, expiresAt],
    );
    // The v1 claims (api.md): the delivery is the subject, the provider whose nodes accept it the audience.
    // `knd` is always `buyer`: only the row knows an audit key, so a node cannot serve audits
    // differently from buyers' requests (docs/metering.md).
    const token = await new SignJWT({ buy: input.buyerId, mdl: input.modelClassId, knd: 'buyer' })
      .setProtectedHeader({ alg: DELIVERY_KEY_ALGORITHM, kid: signingKey.kid, typ: 'JWT' })
      .setIssuer(DELIVERY_KEY_ISSUER)
      .setSubject(input.deliveryId)
      .setAudience(input.providerId)
      .setJti(id)
      .setIssuedAt(issuedAt)
      .setNotBefore(issuedAt)
      .setExpirationTime(expiresAtSeconds)
      .sign(signingKey.privateKey);
    return { id, token, expiresAt };
  }

  /**
   * Revokes a key once; false if there is no such key (in that delivery, when given) or it was
   * already revoked. Nodes learn of it at their next refresh of the revocation list.
   */
  async revoke(keyId: string, deliveryId?: string): Promise<boolean> {
    if (!isUUID(keyId) || (deliveryId !== undefined && !isUUID(deliveryId))) return false;
    const [, changed]: [unknown[], number] = await this.dataSource.query(
      `UPDATE delivery_keys SET revoked_at = now()
       WHERE id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR delivery_id = $2::uuid)`,
      [keyId, deliveryId ?? null],
    );
    return changed > 0;
  }

  async keysOfDelivery(deliveryId: string, manager?: EntityManager): Promise<DeliveryKeyRecord[]> {
    if (!isUUID(deliveryId)) return [];
    const rows: DeliveryKeyDbRow[] = await (manager ?? this.dataSource.manager).query(
      `SELECT id, delivery_id, buyer_id, provider_id, kind, signing_key_id, expires_at, revoked_at, created_at
       FROM delivery_keys WHERE delivery_id = $1 ORDER BY created_at, id`,
      [deliveryId],
    );
    return rows.map(record);
  }

  /**
   * The revocation list nodes poll, as published: revoked keys that would otherwise still verify,
   * by `jti`, with their `exp` (unix seconds, exact: expires_at is stored whole seconds).
   */
  async revoked(now = new Date()): Promise<DeliveryKeyRevocationList> {
    const rows: Array<{ id: string; expires_at: Date }> = await this.dataSource.query(
      `SELECT id, expires_at FROM delivery_keys
       WHERE revoked_at IS NOT NULL AND expires_at > $1 ORDER BY expires_at, id`,
      [now],
    );
    return { revoked: rows.map((r) => ({ jti: r.id, exp: Math.floor(r.expires_at.getTime() / 1000) })) };
  }

  /** Public keys of every signing key not retired, or retired less than 7 days ago. */
  async jwks(now = new Date()): Promise<JSONWebKeySet> {
    const rows: Array<{ kid: string; public_jwk: JWK }> = await this.dataSource.query(
      `SELECT kid, public_jwk FROM signing_keys
       WHERE retired_at IS NULL OR retired_at > $1::timestamptz - interval '${RETIRED_KEY_PUBLISHED_FOR}'
       ORDER BY created_at DESC, kid DESC`,
      [now],
    );
    // Named fields only: nothing else stored with a key can leak into the published set.
    return {
      keys: rows.map(({ kid, public_jwk: { kty, crv, x } }) => ({ kty, crv, x, kid, alg: DELIVERY_KEY_ALGORITHM, use: 'sig' })),
    };
  }

  /** The kid new keys are signed with (creating the first signing key if there is none). */
  async signingKeyId(): Promise<string> {
    return (await this.signingKey()).kid;
  }

  /**
   * Starts signing with a fresh key and retires the others; they stay published for 7 days.
   * Other processes switch within a minute (their cache); nodes fetch the new key on first sight.
   */
  async rotateSigningKey(): Promise<{ kid: string; retired: string[] }> {
    const result = await this.dataSource.transaction(async (manager) => {
      await manager.query(SIGNING_KEYS_LOCK);
      const kid = await this.insertSigningKey(manager);
      const [retired]: [Array<{ kid: string }>, number] = await manager.query(
        `UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL AND kid <> $1 RETURNING kid`,
        [kid],
      );
      return { kid, retired: retired.map((r) => r.kid) };
    });
    this.cached = null;
    return result;
  }

  private signingKey(): Promise<SigningKey> {
    if (this.cached === null || Date.now() - this.cached.loadedAt > SIGNING_KEY_CACHE_MS) {
      const key = this.loadSigningKey();
      const entry = { key, loadedAt: Date.now() };
      this.cached = entry;
      // A failed load is not cached: the next caller tries again.
      key.catch(() => {
        if (this.cached === entry) this.cached = null;
      });
    }
    return this.cached.key;
  }

  private async loadSigningKey(): Promise<SigningKey> {
    const [existing]: Array<{ kid: string; private_pkcs8: string }> = await this.dataSource.query(NEWEST_SIGNING_KEY);
    if (existing) return this.importSigningKey(existing.kid, existing.private_pkcs8);
    const row = await this.dataSource.transaction(async (manager) => {
      await manager.query(SIGNING_KEYS_LOCK);
      // Checked again under the lock: of processes starting together, one creates the key.
      const [found]: Array<{ kid: string; private_pkcs8: string }> = await manager.query(NEWEST_SIGNING_KEY);
      if (found) return found;
      await this.insertSigningKey(manager);
      const [created]: Array<{ kid: string; private_pkcs8: string }> = await manager.query(NEWEST_SIGNING_KEY);
      return created;
    });
    return this.importSigningKey(row.kid, row.private_pkcs8);
  }

  /** `stored`: the row's private key, sealed or not. */
  private async importSigningKey(kid: string, stored: string): Promise<SigningKey> {
    if (this.lastImported?.kid === kid) return this.lastImported;
    const key = { kid, privateKey: await importPKCS8(this.vault.open(kid, stored), DELIVERY_KEY_ALGORITHM) };
    this.lastImported = key;
    return key;
  }

  /** A new Ed25519 key pair, named by the RFC 7638 thumbprint of its public key. */
  private async insertSigningKey(manager: EntityManager): Promise<string> {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const { kty, crv, x } = publicKey.export({ format: 'jwk' });
    const publicJwk = { kty, crv, x };
    const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
    await manager.query(`INSERT INTO signing_keys (kid, algorithm, public_jwk, private_pkcs8) VALUES ($1, $2, $3, $4)`, [
      kid,
      DELIVERY_KEY_ALGORITHM,
      JSON.stringify(publicJwk),
      this.vault.seal(kid, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()),
    ]);
    return kid;
  }
}
