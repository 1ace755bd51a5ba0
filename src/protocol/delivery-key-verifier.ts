import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';

/**
 * Delivery keys (market-rules §5): short-lived JWTs that let a buyer consume one delivery at the
 * provider's node. tokex signs them (Ed25519); a node verifies them offline against tokex's JWKS
 * and revocation list. The claims and both documents are the published v1 contract
 * (../shared/spec/api.md, "The delivery and metering protocol"): providers who write their own
 * verifier code against it. Pure on purpose: only `jose` and Node built-ins, because the node
 * agent imports this file without Nest or a database. See docs/delivery-keys.md.
 */

export const DELIVERY_KEY_ISSUER = 'tokex';
export const DELIVERY_KEY_ALGORITHM = 'EdDSA';
export const DELIVERY_KEY_KINDS = ['buyer', 'audit'] as const;
export type DeliveryKeyKind = (typeof DELIVERY_KEY_KINDS)[number];

/** Where tokex publishes what nodes need, relative to its base URL. */
export const JWKS_PATH = '/v1/.well-known/jwks.json';
export const REVOKED_DELIVERY_KEYS_PATH = '/v1/delivery-keys/revoked';

/** One entry of the revocation list: a revoked key's `jti`, and its `exp` (unix seconds). */
export interface RevokedDeliveryKeyEntry {
  readonly jti: string;
  readonly exp: number;
}

/** The document at REVOKED_DELIVERY_KEYS_PATH: keys revoked before their expiry, not yet expired. */
export interface DeliveryKeyRevocationList {
  readonly revoked: readonly RevokedDeliveryKeyEntry[];
}

/** Skew allowed between tokex's clock and a node's, on `nbf` and `exp`. */
export const CLOCK_TOLERANCE_SECONDS = 5;
// A delivery key is a few hundred bytes; refusing big inputs early keeps a node's work bounded.
const MAX_TOKEN_LENGTH = 4096;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MODEL_CLASS_ID = /^[a-z0-9][a-z0-9.-]{0,62}[a-z0-9]$/;

export interface DeliveryKeyClaims {
  /** `jti`: the delivery_keys row, what revocation names. */
  readonly keyId: string;
  /** `sub` */
  readonly deliveryId: string;
  /** `buy` */
  readonly buyerId: string;
  /** `aud`: the provider whose nodes must accept it. */
  readonly providerId: string;
  /** `mdl` */
  readonly modelClassId: string;
  /**
   * `knd`: tokex issues every key as `buyer`, its audit keys included, so that a node cannot tell
   * an audit from a buyer's request; `audit` is still read in keys issued before that.
   */
  readonly kind: DeliveryKeyKind;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

export type DeliveryKeyErrorReason =
  | 'malformed' // not a delivery key: unparseable, wrong header, missing or ill-typed claims
  | 'bad_signature' // not signed by a key in the set (including a disallowed `alg` or an unknown `kid`)
  | 'expired'
  | 'not_yet_valid'
  | 'revoked'
  | 'wrong_delivery'
  | 'wrong_provider'
  | 'wrong_issuer'; // signed by tokex but not as a delivery key: another `iss`

export class DeliveryKeyError extends Error {
  constructor(
    readonly reason: DeliveryKeyErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DeliveryKeyError';
  }
}

export interface DeliveryKeyExpectations {
  /** The node's provider: a key whose audience is another provider is refused (`wrong_provider`). */
  readonly providerId?: string;
  /** A key whose subject is another delivery is refused (`wrong_delivery`). */
  readonly deliveryId?: string;
  readonly now?: Date;
  readonly isRevoked?: (keyId: string) => boolean;
}

/** Verifies a delivery key against a JWKS and returns its claims, or throws a DeliveryKeyError. */
export async function verifyDeliveryKey(token: string, keys: JSONWebKeySet, expect: DeliveryKeyExpectations = {}): Promise<DeliveryKeyClaims> {
  let keySet: JWTVerifyGetKey;
  try {
    keySet = createLocalJWKSet(keys);
  } catch (error) {
    throw new DeliveryKeyError('bad_signature', 'the key set is not a valid JWKS', { cause: error });
  }
  return verifyWithKeySet(token, keySet, expect);
}

async function verifyWithKeySet(token: string, keySet: JWTVerifyGetKey, expect: DeliveryKeyExpectations): Promise<DeliveryKeyClaims> {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    throw new DeliveryKeyError('malformed', 'not a delivery key');
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(
      token,
      (header, jws) => {
        // tokex always names its key; without a kid any key of the set would be tried.
        if (typeof header.kid !== 'string' || header.kid === '') throw new DeliveryKeyError('malformed', 'the key has no "kid" header');
        return keySet(header, jws);
      },
      {
        algorithms: [DELIVERY_KEY_ALGORITHM], // never "none", never HMAC with a public key as secret
        issuer: DELIVERY_KEY_ISSUER,
        // The audience is a provider, checked below against the one expected (`wrong_provider`).
        typ: 'JWT',
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: expect.now ?? new Date(),
        requiredClaims: ['jti', 'sub', 'aud', 'iat', 'nbf', 'exp'],
      },
    ));
  } catch (error) {
    throw fromJose(error);
  }
  const claims = readClaims(payload);
  // Revocation is checked after the signature, so a forged jti learns nothing.
  if (expect.isRevoked?.(claims.keyId)) throw new DeliveryKeyError('revoked', 'the delivery key was revoked');
  if (expect.providerId !== undefined && claims.providerId !== expect.providerId.toLowerCase()) {
    throw new DeliveryKeyError('wrong_provider', "the delivery key is for another provider's node");
  }
  if (expect.deliveryId !== undefined && claims.deliveryId !== expect.deliveryId.toLowerCase()) {
    throw new DeliveryKeyError('wrong_delivery', 'the delivery key is for another delivery');
  }
  return claims;
}

function readClaims(payload: JWTPayload): DeliveryKeyClaims {
  const { jti, sub, aud, buy, mdl, knd, iat, exp } = payload;
  const bad = (claim: string) => new DeliveryKeyError('malformed', `the "${claim}" claim is missing or ill-typed`);
  if (!isUuid(jti)) throw bad('jti');
  if (!isUuid(sub)) throw bad('sub');
  // One provider, as a string: tokex never issues a key for several audiences.
  if (!isUuid(aud)) throw bad('aud');
  if (!isUuid(buy)) throw bad('buy');
  if (typeof mdl !== 'string' || !MODEL_CLASS_ID.test(mdl)) throw bad('mdl');
  if (!(DELIVERY_KEY_KINDS as readonly unknown[]).includes(knd)) throw bad('knd');
  if (!Number.isSafeInteger(iat)) throw bad('iat');
  if (!Number.isSafeInteger(exp)) throw bad('exp');
  return {
    keyId: jti.toLowerCase(),
    deliveryId: sub.toLowerCase(),
    buyerId: buy.toLowerCase(),
    providerId: aud.toLowerCase(),
    modelClassId: mdl,
    kind: knd as DeliveryKeyKind,
    issuedAt: new Date((iat as number) * 1000),
    expiresAt: new Date((exp as number) * 1000),
  };
}

const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

/** Every failure of jose becomes one reason; anything unforeseen counts as malformed. */
function fromJose(error: unknown): DeliveryKeyError {
  if (error instanceof DeliveryKeyError) return error;
  const { code, claim, reason } = (error ?? {}) as { code?: unknown; claim?: unknown; reason?: unknown };
  const fail = (why: DeliveryKeyErrorReason, message: string) => new DeliveryKeyError(why, message, { cause: error });
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return fail('expired', 'the delivery key has expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (reason === 'check_failed' && claim === 'nbf') return fail('not_yet_valid', 'the delivery key is not valid yet');
      if (reason === 'check_failed' && claim === 'iss') return fail('wrong_issuer', 'not a delivery key issued by tokex');
      return fail('malformed', `the "${String(claim)}" claim is missing or ill-typed`);
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JWK_INVALID':
    case 'ERR_JWKS_INVALID':
      return fail('bad_signature', 'the delivery key is not signed by tokex');
    default:
      return fail('malformed', 'not a delivery key');
  }
}

/** The `kid` a token names, if it parses at all. */
function kidOf(token: string): string | undefined {
  try {
    const { kid } = decodeProtectedHeader(token);
    return typeof kid === 'string' ? kid : undefined;
  } catch {
    return undefined;
  }
}

export interface RemoteDeliveryKeysOptions {
  /** tokex's base URL, e.g. https://api.tokex.example */
  readonly tokexUrl: string;
  /** The provider this node belongs to. */
  readonly providerId: string;
  readonly refreshMs?: number;
  readonly fetch?: typeof globalThis.fetch;
  /** Per request; a hung tokex must not hang verification. */
  readonly timeoutMs?: number;
  /** Told about failed periodic refreshes (the last good sets stay in use). */
  readonly onRefreshError?: (error: unknown) => void;
}

interface LoadedKeySet {
  readonly getKey: JWTVerifyGetKey;
  readonly kids: ReadonlySet<string>;
}

// A token naming an unknown kid may come from a key tokex just added; but kids are chosen by
// whoever sends the token, so such refreshes are rationed.
const UNKNOWN_KID_REFRESH_MIN_MS = 5_000;

/**
 * A node's view of tokex's JWKS and revocation list: loaded once, refreshed every `refreshMs`,
 * then every key is verified locally. When tokex cannot be reached the last good sets stay in
 * use (so revocations made meanwhile are missed until the next good refresh).
 */
export class RemoteDeliveryKeys {
  private readonly baseUrl: string;
  private readonly providerId: string;
  private readonly refreshMs: number;
  private readonly fetch: typeof globalThis.fetch;
  private readonly timeoutMs: number;
  private readonly onRefreshError: (error: unknown) => void;
  private keySet: LoadedKeySet | null = null;
  private revokedIds: ReadonlySet<string> = new Set();
  private inFlight: Promise<void> | null = null;
  private lastKidRefreshAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private refreshedAt: Date | null = null;

  constructor({
    tokexUrl,
    providerId,
    refreshMs = 30_000,
    fetch = globalThis.fetch,
    timeoutMs = 10_000,
    onRefreshError = () => undefined,
  }: RemoteDeliveryKeysOptions) {
    this.baseUrl = tokexUrl.replace(/\/+$/, '');
    this.providerId = providerId;
    this.refreshMs = refreshMs;
    this.fetch = (input, init) => fetch(input, init); // called unbound, as some fetch implementations require
    this.timeoutMs = timeoutMs;
    this.onRefreshError = onRefreshError;
  }

  /** When the sets in use were fetched; null before the first good refresh. */
  get lastRefreshedAt(): Date | null {
    return this.refreshedAt;
  }

  /** Fetches both documents and swaps them in together; on failure keeps the previous ones and rejects. */
  refresh(): Promise<void> {
    // Concurrent callers share one fetch.
    this.inFlight ??= this.load().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  async verify(token: string, deliveryId?: string): Promise<DeliveryKeyClaims> {
    if (this.keySet === null) await this.refresh();
    const kid = kidOf(token);
    if (kid !== undefined && !this.keySet!.kids.has(kid) && Date.now() - this.lastKidRefreshAt >= UNKNOWN_KID_REFRESH_MIN_MS) {
      this.lastKidRefreshAt = Date.now();
      await this.refresh().catch((error: unknown) => this.onRefreshError(error));
    }
    const revoked = this.revokedIds;
    return verifyWithKeySet(token, this.keySet!.getKey, { providerId: this.providerId, deliveryId, isRevoked: (id) => revoked.has(id) });
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.refresh().catch((error: unknown) => this.onRefreshError(error));
    }, this.refreshMs);
    this.timer.unref(); // never what keeps a node's process alive
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async load(): Promise<void> {
    const [jwks, revoked] = await Promise.all([this.getJson(JWKS_PATH), this.getJson(REVOKED_DELIVERY_KEYS_PATH)]);
    const keySet = parseKeySet(jwks);
    const revokedIds = parseRevoked(revoked);
    this.keySet = keySet;
    this.revokedIds = revokedIds;
    this.refreshedAt = new Date();
  }

  private async getJson(path: string): Promise<unknown> {
    const response = await this.fetch(`${this.baseUrl}${path}`, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!response.ok) throw new Error(`GET ${path} answered ${response.status}`);
    return response.json();
  }
}

function parseKeySet(document: unknown): LoadedKeySet {
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error('the JWKS has no "keys" array');
  // Throws on a malformed set, so a bad document never replaces a good one.
  const getKey = createLocalJWKSet(document as JSONWebKeySet);
  const kids = new Set(keys.map((k: { kid?: unknown }) => k?.kid).filter((kid): kid is string => typeof kid === 'string'));
  return { getKey, kids };
}

function parseRevoked(document: unknown): ReadonlySet<string> {
  const revoked = (document as { revoked?: unknown } | null)?.revoked;
  if (!Array.isArray(revoked)) throw new Error('the revocation list has no "revoked" array');
  const ids = new Set<string>();
  // `exp` is not needed to refuse a key (an expired one fails on its own `exp`), so only `jti` is read.
  for (const entry of revoked as Array<{ jti?: unknown }>) {
    if (!isUuid(entry?.jti)) throw new Error('the revocation list has an entry without a valid "jti"');
    ids.add(entry.jti.toLowerCase());
  }
  return ids;
}
