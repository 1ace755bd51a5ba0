import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';

/**
 * The signed usage batch a provider's node agent posts to tokex (market-rules §7), shared by the
 * agent (which signs) and the exchange (which verifies). Pure: node:crypto only, no Nest.
 *
 * Wire format of `POST /v1/metering/usage-batches`:
 *
 *   { "nodeId": "<uuid>", "payload": "<base64url of the UTF-8 JSON of a UsageBatch>", "signature": "<base64url Ed25519>" }
 *
 * The signature covers the payload's bytes exactly as sent, so nothing has to be canonicalised:
 * the exchange verifies the bytes first and only then parses them.
 */
export interface UsageRecord {
  /** The node's id for the inference request: counted once per node, however often sent. */
  readonly requestId: string;
  readonly deliveryId: string;
  /** The delivery key (jti) the request was served under. */
  readonly keyId: string;
  /** The model the upstream server answered as. */
  readonly model: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** ISO 8601. */
  readonly startedAt: string;
  readonly finishedAt: string;
  /** Time to first token, ms (for a non-streamed request, time to the whole answer). */
  readonly ttftMs: number;
  /** `ok`, or `error` for a request the upstream failed or refused (counts toward breach). */
  readonly status: 'ok' | 'error';
  /** Whether the answer was streamed. */
  readonly stream: boolean;
}

export interface UsageBatch {
  readonly batchId: string;
  readonly nodeId: string;
  /** ISO 8601, when the agent sealed the batch. */
  readonly createdAt: string;
  readonly records: readonly UsageRecord[];
}

export interface SignedUsageBatch {
  readonly nodeId: string;
  readonly payload: string;
  readonly signature: string;
}

export const MAX_RECORDS_PER_BATCH = 5_000;

/** Signs a batch with the node's Ed25519 private key (PEM or KeyObject). */
export function signUsageBatch(batch: UsageBatch, privateKey: KeyObject | string): SignedUsageBatch {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  const bytes = Buffer.from(JSON.stringify(batch), 'utf8');
  return { nodeId: batch.nodeId, payload: bytes.toString('base64url'), signature: sign(null, bytes, key).toString('base64url') };
}

export type UsageBatchProblem = 'bad_signature' | 'malformed' | 'node_mismatch';

export class UsageBatchError extends Error {
  constructor(
    readonly problem: UsageBatchProblem,
    message: string,
  ) {
    super(message);
    this.name = 'UsageBatchError';
  }
}

/**
 * Verifies the signature over the payload's bytes with the node's registered public key (base64
 * DER SPKI, as the node registry stores it), then parses and checks the batch's shape. Throws
 * UsageBatchError; returns the batch and its raw bytes.
 */
export function openUsageBatch(signed: SignedUsageBatch, publicKeySpkiBase64: string): { batch: UsageBatch; bytes: Buffer } {
  const bytes = Buffer.from(signed.payload, 'base64url');
  const signature = Buffer.from(signed.signature, 'base64url');
  const key = createPublicKey({ key: Buffer.from(publicKeySpkiBase64, 'base64'), format: 'der', type: 'spki' });
  let valid = false;
  try {
    valid = signature.length === 64 && verify(null, bytes, key, signature);
  } catch {
    valid = false;
  }
  if (!valid) throw new UsageBatchError('bad_signature', 'the signature does not verify with the node’s registered public key');
  let batch: unknown;
  try {
    batch = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new UsageBatchError('malformed', 'the payload is not JSON');
  }
  const problem = shapeProblem(batch);
  if (problem) throw new UsageBatchError('malformed', problem);
  if ((batch as UsageBatch).nodeId !== signed.nodeId) throw new UsageBatchError('node_mismatch', 'the payload names another node');
  return { batch: batch as UsageBatch, bytes };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= 10_000_000;
const isTime = (v: unknown) => typeof v === 'string' && v.length <= 40 && !Number.isNaN(Date.parse(v));

/** What is wrong with a parsed batch, naming the field; undefined if nothing. */
export function shapeProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'the batch must be an object';
  const b = value as Record<string, unknown>;
  if (typeof b.batchId !== 'string' || !UUID.test(b.batchId)) return 'batchId must be a UUID';
  if (typeof b.nodeId !== 'string' || !UUID.test(b.nodeId)) return 'nodeId must be a UUID';
  if (!isTime(b.createdAt)) return 'createdAt must be an ISO 8601 time';
  if (!Array.isArray(b.records) || b.records.length === 0 || b.records.length > MAX_RECORDS_PER_BATCH) {
    return `records must hold 1 to ${MAX_RECORDS_PER_BATCH} records`;
  }
  for (const [i, r] of (b.records as unknown[]).entries()) {
    const at = `records[${i}]`;
    if (typeof r !== 'object' || r === null) return `${at} must be an object`;
    const x = r as Record<string, unknown>;
    if (typeof x.requestId !== 'string' || x.requestId.length === 0 || x.requestId.length > 128) return `${at}.requestId must be 1 to 128 characters`;
    if (typeof x.deliveryId !== 'string' || !UUID.test(x.deliveryId)) return `${at}.deliveryId must be a UUID`;
    if (typeof x.keyId !== 'string' || !UUID.test(x.keyId)) return `${at}.keyId must be a UUID`;
    if (typeof x.model !== 'string' || x.model.length > 200) return `${at}.model must be a string`;
    if (!isCount(x.promptTokens)) return `${at}.promptTokens must be a whole number`;
    if (!isCount(x.completionTokens)) return `${at}.completionTokens must be a whole number`;
    if (!isTime(x.startedAt) || !isTime(x.finishedAt)) return `${at}.startedAt and finishedAt must be ISO 8601 times`;
    if (Date.parse(x.finishedAt as string) < Date.parse(x.startedAt as string)) return `${at}.finishedAt is before startedAt`;
    if (!isCount(x.ttftMs)) return `${at}.ttftMs must be a whole number of milliseconds`;
    if (x.status !== 'ok' && x.status !== 'error') return `${at}.status must be ok or error`;
    if (typeof x.stream !== 'boolean') return `${at}.stream must be true or false`;
  }
  return undefined;
}
