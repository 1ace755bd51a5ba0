import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, forbidden } from '../common/domain-error.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { FailedAuthLimiter } from '../platform/http/failed-auth-limiter.js';
import { hashApiKey } from './api-key-secret.js';
import type { ParticipantStatus, Role } from './participant.entity.js';
import type { Principal } from '../platform/http/auth.js';

interface CachedKey {
  readonly principal: Principal;
  readonly status: ParticipantStatus;
  readonly expiresAt: number;
}

const MAX_CACHED_KEYS = 100_000;

export interface KeyInvalidation {
  readonly participantId?: string;
  readonly apiKeyId?: string;
}
export type KeyStanding = 'active' | 'revoked' | 'suspended';
/** Key hashes this process has verified, exempt from the address limit when they miss the cache again. */
const MAX_VOUCHED_KEYS = 100_000;
/** Unknown key hashes remembered: enough for a client retrying a few wrong keys; a stranger trying many meets the address limit. */
const MAX_UNKNOWN_KEYS = 10_000;

/**
 * Resolves an API key to its participant. Verified keys are cached for API_KEY_CACHE_TTL_MS so
 * the order path does not ask PostgreSQL on every request; revoking a key or suspending a
 * participant clears this process's cache at once, and other API processes within the TTL.
 * Unknown keys are remembered as unknown for the same TTL, and keys not verified from memory are
 * limited per client address (FailedAuthLimiter): wrong keys do not reach PostgreSQL every time.
 * A key this process has verified before is read again without that limit: otherwise a busy
 * client (or a proxy) whose many keys all leave the cache at the same TTL would meet a limit meant
 * for strangers guessing keys (bench:orders met it: 100 connections, 250 keys, one address).
 */
@Injectable()
export class ApiKeyAuthenticator {
  private readonly cache = new Map<string, CachedKey>();
  private readonly invalidationListeners = new Set<(match: KeyInvalidation) => void>();
  /** Hashes of keys found unknown or revoked, with when that stops being trusted; oldest first. */
  private readonly unknown = new Map<string, number>();
  /** Hashes of keys verified here, oldest first (they are read again from PostgreSQL all the same). */
  private readonly vouched = new Set<string>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly failures: FailedAuthLimiter,
  ) {}

  /** `clientAddress`: where the request came from, for the limit on unknown keys (none without it). */
  async authenticate(rawKey: string, clientAddress?: string): Promise<Principal> {
    const hash = hashApiKey(rawKey);
    const cacheKey = hash.toString('base64');
    let entry = this.cache.get(cacheKey);
    if (!entry || entry.expiresAt <= Date.now()) {
      const release = this.vouched.has(cacheKey) ? undefined : await this.failures.admit(clientAddress);
      const knownUnknown = (this.unknown.get(cacheKey) ?? 0) > Date.now();
      entry = knownUnknown ? undefined : await this.load(hash);
      if (!entry) {
        this.cache.delete(cacheKey);
        this.vouched.delete(cacheKey);
        if (!knownUnknown) this.rememberUnknown(cacheKey);
        throw new DomainError('INVALID_API_KEY', 'the API key is unknown or revoked', 'unauthenticated');
      }
      await release?.();
      this.vouch(cacheKey);
      if (this.config.http.apiKeyCacheTtlMs > 0) {
        if (this.cache.size >= MAX_CACHED_KEYS) this.cache.clear();
        this.cache.set(cacheKey, entry);
      }
    }
    if (entry.status !== 'active') throw forbidden('PARTICIPANT_SUSPENDED', 'this participant is suspended');
    return entry.principal;
  }

  /**
   * The participant behind a key id, read fresh (the ops console's session names its key by id):
   * a revoked key is 401 and a suspended participant 403 at once, not after a cache's TTL.
   */
  async authenticateKeyId(apiKeyId: string): Promise<Principal> {
    const entry = await this.loadWhere('k.id::text = $1', apiKeyId);
    if (!entry) throw new DomainError('INVALID_API_KEY', 'the API key is unknown or revoked', 'unauthenticated');
    if (entry.status !== 'active') throw forbidden('PARTICIPANT_SUSPENDED', 'this participant is suspended');
    return entry.principal;
  }

  private vouch(cacheKey: string): void {
    if (this.vouched.has(cacheKey)) return;
    if (this.vouched.size >= MAX_VOUCHED_KEYS) this.vouched.delete(this.vouched.values().next().value!);
    this.vouched.add(cacheKey);
  }

  private rememberUnknown(cacheKey: string): void {
    if (this.config.http.apiKeyCacheTtlMs === 0) return;
    this.unknown.delete(cacheKey);
    if (this.unknown.size >= MAX_UNKNOWN_KEYS) this.unknown.delete(this.unknown.keys().next().value!);
    this.unknown.set(cacheKey, Date.now() + this.config.http.apiKeyCacheTtlMs);
  }

  /** Forget cached keys of a participant (suspension) or one key (revocation), and tell who holds keys open (the stream). */
  invalidate(match: KeyInvalidation): void {
    for (const [k, v] of this.cache) {
      if (v.principal.participantId === match.participantId || v.principal.apiKeyId === match.apiKeyId) this.cache.delete(k);
    }
    for (const listener of this.invalidationListeners) listener(match);
  }

  /** Called on every revocation or suspension made in this process (other processes' are found by `standing`). */
  onInvalidated(listener: (match: KeyInvalidation) => void): () => void {
    this.invalidationListeners.add(listener);
    return () => this.invalidationListeners.delete(listener);
  }

  /** Whether each key may still be used, read fresh in one query: a key not answered is unknown (revoked and gone). */
  async standing(apiKeyIds: readonly string[]): Promise<Map<string, KeyStanding>> {
    if (apiKeyIds.length === 0) return new Map();
    const rows: Array<{ id: string; revoked: boolean; status: ParticipantStatus }> = await this.dataSource.query(
      `SELECT k.id, k.revoked_at IS NOT NULL AS revoked, p.status FROM api_keys k JOIN participants p ON p.id = k.participant_id WHERE k.id = ANY($1::uuid[])`,
      [apiKeyIds],
    );
    return new Map(rows.map((r) => [r.id, r.revoked ? 'revoked' : r.status === 'active' ? 'active' : 'suspended']));
  }

  private load(hash: Buffer): Promise<CachedKey | undefined> {
    return this.loadWhere('k.key_hash = $1', hash);
  }

  private async loadWhere(condition: string, value: unknown): Promise<CachedKey | undefined> {
    const [row]: Array<{ key_id: string; participant_id: string; roles: Role[]; status: ParticipantStatus }> = await this.dataSource.query(
      `SELECT k.id AS key_id, p.id AS participant_id, p.roles, p.status
         FROM api_keys k JOIN participants p ON p.id = k.participant_id
        WHERE ${condition} AND k.revoked_at IS NULL`,
      [value],
    );
    if (!row) return undefined;
    return {
      principal: { participantId: row.participant_id, roles: row.roles, apiKeyId: row.key_id },
      status: row.status,
      expiresAt: Date.now() + this.config.http.apiKeyCacheTtlMs,
    };
  }
}
