import { createParamDecorator, type ExecutionContext, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { conflict, DomainError, invalid } from '../../common/domain-error.js';

export interface StoredResponse<T = unknown> {
  readonly statusCode: number;
  readonly body: T;
  /** True when this is the first answer again, not a new execution. */
  readonly replayed: boolean;
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** How long a claim without an answer holds its key: far longer than any request takes, short enough for a retry after a crash. */
export const CLAIM_LAPSES_AFTER_SECONDS = 60;

/** Whose key, and what it was sent with (method, route and body). */
export interface IdempotencyScope {
  readonly participantId: string;
  readonly key: string;
  readonly fingerprint: unknown;
}

/** The `Idempotency-Key` header, checked: 1 to 255 visible ASCII characters, or absent. */
export const IdempotencyKeyHeader = createParamDecorator((_: unknown, context: ExecutionContext): string | undefined => {
  const value = context.switchToHttp().getRequest().headers['idempotency-key'];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !KEY_PATTERN.test(value)) {
    throw invalid('INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
  }
  return value;
});

/**
 * `Idempotency-Key` for POSTs that move money or create orders (api.md). The key is claimed and
 * the answer stored in the caller's transaction, together with the effects, so "done" and
 * "remembered" commit at once. A concurrent request with the same key waits on the row's unique
 * index until the first commits, then gets its answer. Same key and body: the first answer; same
 * key, other body: 409. Failed requests roll back and leave no key, so they can be retried.
 */
@Injectable()
export class IdempotencyService {
  async run<T>(
    manager: EntityManager,
    scope: { participantId: string; key: string | undefined; fingerprint: unknown },
    execute: () => Promise<{ statusCode: number; body: T }>,
  ): Promise<StoredResponse<T>> {
    if (scope.key === undefined) return { ...(await execute()), replayed: false };
    const hash = fingerprintHash(scope.fingerprint);
    const claimed = await manager.query(
      `INSERT INTO idempotency_keys (participant_id, key, request_hash, status_code, response_body)
       VALUES ($1, $2, $3, 0, 'null') ON CONFLICT DO NOTHING RETURNING key`,
      [scope.participantId, scope.key, hash],
    );
    if (claimed.length === 0) {
      const [stored] = await manager.query(
        `SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE participant_id = $1 AND key = $2`,
        [scope.participantId, scope.key],
      );
      if (!(stored.request_hash as Buffer).equals(hash)) {
        throw conflict('IDEMPOTENCY_KEY_REUSED', 'Idempotency-Key was already used with a different request');
      }
      return { statusCode: stored.status_code, body: stored.response_body as T, replayed: true };
    }
    const response = await execute();
    await manager.query(
      `UPDATE idempotency_keys SET status_code = $3, response_body = $4 WHERE participant_id = $1 AND key = $2`,
      [scope.participantId, scope.key, response.statusCode, JSON.stringify(response.body)],
    );
    return { ...response, replayed: false };
  }

  /**
   * For requests whose effects commit in several transactions (an order batch across books), where
   * `run`'s one transaction does not fit: the key is claimed in a commit of its own, the request
   * runs, and `settle` stores its answer. Returns the stored answer when the key was already
   * answered (same body), and undefined when the caller now holds the claim. Another request under
   * the key while the first runs is a 409 to retry; a claim left by a crashed process lapses after
   * a minute. The request must make its own effects safe to run twice (a batch keys each place).
   */
  async claim(manager: EntityManager, scope: IdempotencyScope): Promise<StoredResponse | undefined> {
    const hash = fingerprintHash(scope.fingerprint);
    const claimed = await manager.query(
      `INSERT INTO idempotency_keys (participant_id, key, request_hash, status_code, response_body) VALUES ($1, $2, $3, 0, 'null')
       ON CONFLICT (participant_id, key) DO UPDATE SET request_hash = excluded.request_hash, created_at = now()
        WHERE idempotency_keys.status_code = 0 AND idempotency_keys.created_at < now() - make_interval(secs => $4)
       RETURNING key`,
      [scope.participantId, scope.key, hash, CLAIM_LAPSES_AFTER_SECONDS],
    );
    if (claimed.length > 0) return undefined;
    const [stored] = await manager.query(`SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE participant_id = $1 AND key = $2`, [
      scope.participantId,
      scope.key,
    ]);
    if (!stored) return this.claim(manager, scope); // settled without an answer meanwhile: free again
    if (!(stored.request_hash as Buffer).equals(hash)) throw conflict('IDEMPOTENCY_KEY_REUSED', 'Idempotency-Key was already used with a different request');
    if (stored.status_code === 0) {
      throw new DomainError('IDEMPOTENCY_KEY_IN_FLIGHT', 'a request with this Idempotency-Key is still running; retry to get its answer', 'conflict', { retryAfterSeconds: 1 });
    }
    return { statusCode: stored.status_code, body: stored.response_body, replayed: true };
  }

  /** Ends a claim: stores the answer for retries, or (undefined) frees the key so that a retry runs again. */
  async settle(manager: EntityManager, scope: IdempotencyScope, response: { statusCode: number; body: unknown } | undefined): Promise<void> {
    if (response === undefined) {
      await manager.query(`DELETE FROM idempotency_keys WHERE participant_id = $1 AND key = $2 AND status_code = 0`, [scope.participantId, scope.key]);
      return;
    }
    await manager.query(`UPDATE idempotency_keys SET status_code = $3, response_body = $4 WHERE participant_id = $1 AND key = $2`, [
      scope.participantId,
      scope.key,
      response.statusCode,
      JSON.stringify(response.body),
    ]);
  }
}

/** SHA-256 of the canonical JSON of a request's method, route and body: what a key is compared by. */
export const fingerprintHash = (fingerprint: unknown): Buffer => createHash('sha256').update(canonicalJson(fingerprint)).digest();

/** JSON with object keys sorted, so the same body always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
