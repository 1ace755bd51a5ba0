import { createParamDecorator, type ExecutionContext, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { conflict, invalid } from '../../common/domain-error.js';

export interface StoredResponse<T = unknown> {
  readonly statusCode: number;
  readonly body: T;
  /** True when this is the first answer again, not a new execution. */
  readonly replayed: boolean;
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

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
    const hash = createHash('sha256').update(canonicalJson(scope.fingerprint)).digest();
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
}

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
