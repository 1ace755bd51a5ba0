import type { DataSource } from 'typeorm';
import { literal } from '../database/sql-literals.js';
import { fingerprintHash } from './idempotency.service.js';

/**
 * The idempotency store for writers that commit many requests in one script (the order books'
 * group commit), where IdempotencyService's claim-in-the-caller's-transaction does not fit: the
 * writer reads the keys of a whole batch in one indexed lookup, decides each command itself, and
 * inserts the answers it gave in its own commit, so "done" and "remembered" still commit at once.
 * A key committed meanwhile by another writer or route violates the primary key and fails that
 * commit, which the writer runs again, now finding the key.
 */
export interface StoredAnswer {
  /** SHA-256 of the method, route and canonical body, as hex. */
  readonly requestHash: string;
  readonly statusCode: number;
  readonly body: unknown;
}

export interface KeyedAnswer extends StoredAnswer {
  readonly participantId: string;
  readonly key: string;
}

/** The hash a request is compared by, the same as IdempotencyService stores. */
export const requestHash = (fingerprint: unknown): string => fingerprintHash(fingerprint).toString('hex');

/** The answers already stored under the given keys (one indexed lookup). */
export async function readStoredAnswers(dataSource: DataSource, keys: ReadonlyArray<{ participantId: string; key: string }>): Promise<KeyedAnswer[]> {
  if (keys.length === 0) return [];
  const rows: Array<{ participant_id: string; key: string; request_hash: Buffer; status_code: number; response_body: unknown }> = await dataSource.query(
    `SELECT i.participant_id, i.key, i.request_hash, i.status_code, i.response_body FROM idempotency_keys i
       JOIN unnest($1::uuid[], $2::text[]) AS k(participant_id, key) ON i.participant_id = k.participant_id AND i.key = k.key`,
    [keys.map((k) => k.participantId), keys.map((k) => k.key)],
  );
  return rows.map((r) => ({ participantId: r.participant_id, key: r.key, requestHash: r.request_hash.toString('hex'), statusCode: r.status_code, body: r.response_body }));
}

/** The statement that stores a batch's answers, for the writer's commit script (no ON CONFLICT: see above). */
export function recordAnswersSql(answers: readonly KeyedAnswer[]): string[] {
  if (answers.length === 0) return [];
  const rows = answers.map(
    (a) => `(${literal(a.participantId)}::uuid, ${literal(a.key)}, decode(${literal(a.requestHash)}, 'hex'), ${a.statusCode}, ${literal(JSON.stringify(a.body))}::jsonb)`,
  );
  return [`INSERT INTO idempotency_keys (participant_id, key, request_hash, status_code, response_body) VALUES ${rows.join(', ')}`];
}
