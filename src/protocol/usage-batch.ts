import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';

/**
 * The signed usage batch a provider's node posts to tokex: the published v1 wire format of
 * `../shared/spec/api.md` ("Usage batches"), shared by the node agent (which signs) and the
 * exchange (which verifies). Pure: node:crypto only, no Nest.
 *
 *   POST /v1/metering/usage-batches
 *   X-Tokex-Node: <node id>
 *   X-Tokex-Signature: <base64url Ed25519 signature of the exact request body bytes>
 *   { "batchId": "...", "nodeId": "...", "createdAt": "...", "records": [ ... ] }
 *
 * The signature covers the body's bytes exactly as sent, so nothing has to be canonicalised: the
 * exchange verifies the bytes first and only then parses them.
 */
export interface UsageRecord {
  /** The id the node answered the request with (`X-Tokex-Request-Id`): counted once per node. */
  readonly requestId: string;
  readonly deliveryId: string;
  /** The model the upstream server answered as. */
  readonly model: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** ISO 8601. */
  readonly startedAt: string;
  readonly finishedAt: string;
  /** Time to first token, ms (for a non-streamed request, time to the whole answer). */
  readonly ttftMs: number;
  /** Hex SHA-256 of the output text, so a buyer or an audit can tie a record to what it received. */
  readonly outputSha256?: string;
  /** Additions to v1, optional: `error` for a request the upstream failed (counts toward breach; default `ok`)... */
  readonly status?: 'ok' | 'error';
  /** ...whether it was streamed, and the delivery key (jti) it was served under. */
  readonly stream?: boolean;
  readonly keyId?: string;
}

export interface UsageBatch {
  /** Unique per node. */
  readonly batchId: string;
  readonly nodeId: string;
  /** ISO 8601, when the node sealed the batch. */
  readonly createdAt: string;
  readonly records: readonly UsageRecord[];
}

export const NODE_HEADER = 'x-tokex-node';
export const SIGNATURE_HEADER = 'x-tokex-signature';
export const MAX_RECORDS_PER_BATCH = 5_000;

/** The request a node sends: the body's bytes and the two headers that authenticate them. */
export interface SignedUsageBatch {
  readonly body: Buffer;
  readonly headers: { readonly [NODE_HEADER]: string; readonly [SIGNATURE_HEADER]: string; readonly 'content-type': 'application/json' };
}

/** Signs a batch with the node's Ed25519 private key (PEM or KeyObject). */
export function signUsageBatch(batch: UsageBatch, privateKey: KeyObject | string): SignedUsageBatch {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  const body = Buffer.from(JSON.stringify(batch), 'utf8');
  return {
    body,
    headers: { [NODE_HEADER]: batch.nodeId, [SIGNATURE_HEADER]: sign(null, body, key).toString('base64url'), 'content-type': 'application/json' },
  };
}

/** Whether `signature` (base64url) is the node key's Ed25519 signature of `body`. */
export function verifyUsageBatchSignature(body: Buffer, signature: string, publicKeySpkiBase64: string): boolean {
  if (!/^[A-Za-z0-9_-]{86}$/.test(signature)) return false;
  try {
    const key = createPublicKey({ key: Buffer.from(publicKeySpkiBase64, 'base64'), format: 'der', type: 'spki' });
    return verify(null, body, key, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}

export interface RejectedRecord {
  readonly index: number;
  readonly requestId: string | null;
  readonly reason: string;
}

export class UsageBatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageBatchError';
  }
}

/**
 * Parses a verified body: the batch's own fields must be right (else UsageBatchError, naming the
 * field), and each record is checked on its own, so one bad record is rejected with its reason
 * while the others are accepted.
 */
export function parseUsageBatch(body: Buffer, nodeId: string): { batch: UsageBatch; valid: UsageRecord[]; rejected: RejectedRecord[] } {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new UsageBatchError('the body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageBatchError('the batch must be an object');
  const b = value as Record<string, unknown>;
  if (typeof b.batchId !== 'string' || b.batchId.length === 0 || b.batchId.length > 128) throw new UsageBatchError('batchId must be 1 to 128 characters');
  if (!isStorable(b.batchId)) throw new UsageBatchError('batchId must not contain a NUL character or a lone UTF-16 surrogate');
  if (b.nodeId !== nodeId) throw new UsageBatchError('nodeId must be the node named in X-Tokex-Node');
  if (!isTime(b.createdAt)) throw new UsageBatchError('createdAt must be an ISO 8601 time');
  if (!Array.isArray(b.records) || b.records.length === 0 || b.records.length > MAX_RECORDS_PER_BATCH) {
    throw new UsageBatchError(`records must hold 1 to ${MAX_RECORDS_PER_BATCH} records`);
  }
  const valid: UsageRecord[] = [];
  const rejected: RejectedRecord[] = [];
  const seen = new Set<string>();
  for (const [index, record] of (b.records as unknown[]).entries()) {
    const problem = recordProblem(record);
    const claimed = (record as { requestId?: unknown } | null)?.requestId;
    const requestId = typeof claimed === 'string' && isStorable(claimed) ? claimed : null; // the answer is stored as jsonb
    if (problem) rejected.push({ index, requestId, reason: problem });
    else if (seen.has(requestId!)) rejected.push({ index, requestId, reason: 'requestId repeated within the batch' });
    else {
      seen.add(requestId!);
      valid.push(record as UsageRecord);
    }
  }
  return { batch: b as unknown as UsageBatch, valid, rejected };
}

/** Text PostgreSQL can store: no NUL, no half of a UTF-16 surrogate pair. */
const isStorable = (text: string) => !/\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= 10_000_000;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const daysIn = (year: number, month: number) => (month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : DAYS_IN_MONTH[month - 1]);

/**
 * The time `v` names in ms, if it is an ISO 8601 time on a day that exists, from 1970 to 9999:
 * JavaScript reads year 0 and February 31, PostgreSQL refuses them. Else undefined. (The day is
 * checked by arithmetic: a Date and its ISO string per timestamp were 3 % of ingest's CPU.)
 */
export function timeOf(v: unknown): number | undefined {
  if (typeof v !== 'string' || v.length > 40) return undefined;
  const day = /^(\d{4})-(\d{2})-(\d{2})T/.exec(v);
  if (!day) return undefined;
  const [year, month, date] = [Number(day[1]), Number(day[2]), Number(day[3])];
  if (year < 1970 || month < 1 || month > 12 || date < 1 || date > daysIn(year, month)) return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : ms;
}
const isTime = (v: unknown) => timeOf(v) !== undefined;

/** What is wrong with one record, naming the field; undefined if nothing. */
export function recordProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'a record must be an object';
  const x = value as Record<string, unknown>;
  if (typeof x.requestId !== 'string' || x.requestId.length === 0 || x.requestId.length > 128) return 'requestId must be 1 to 128 characters';
  if (!isStorable(x.requestId)) return 'requestId must not contain a NUL character or a lone UTF-16 surrogate';
  if (typeof x.deliveryId !== 'string' || !UUID.test(x.deliveryId)) return 'deliveryId must be a UUID';
  if (typeof x.model !== 'string' || x.model.length > 200) return 'model must be a string';
  if (!isStorable(x.model)) return 'model must not contain a NUL character or a lone UTF-16 surrogate';
  if (!isCount(x.promptTokens)) return 'promptTokens must be a whole number from 0 to 10,000,000';
  if (!isCount(x.completionTokens)) return 'completionTokens must be a whole number from 0 to 10,000,000';
  const started = timeOf(x.startedAt);
  const finished = timeOf(x.finishedAt);
  if (started === undefined || finished === undefined) return 'startedAt and finishedAt must be ISO 8601 times';
  if (finished < started) return 'finishedAt is before startedAt';
  if (!isCount(x.ttftMs)) return 'ttftMs must be a whole number of milliseconds';
  if (x.outputSha256 !== undefined && (typeof x.outputSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(x.outputSha256))) return 'outputSha256 must be 64 hex digits';
  if (x.status !== undefined && x.status !== 'ok' && x.status !== 'error') return 'status must be ok or error';
  if (x.stream !== undefined && typeof x.stream !== 'boolean') return 'stream must be true or false';
  if (x.keyId !== undefined && (typeof x.keyId !== 'string' || !UUID.test(x.keyId))) return 'keyId must be a UUID';
  return undefined;
}
