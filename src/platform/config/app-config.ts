import { plainToInstance, Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsString, Matches, Max, Min, MinLength, ValidateIf, validateSync } from 'class-validator';

/**
 * Every environment variable the service reads, with its default. Validated once at start-up;
 * a missing or bad variable stops the process with a message naming it. `.env.example` lists
 * the same variables (a test keeps the two in step).
 */
const toInt = ({ value }: { value: unknown }) => (typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value);
const toBool = ({ value }: { value: unknown }) =>
  value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value;

/** Names of variables whose values must never be printed. */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set([
  'BOOTSTRAP_ADMIN_KEY',
  'DATABASE_URL',
  'REDIS_URL',
  'OPS_SESSION_SECRET',
  'SIGNING_KEYS_ENCRYPTION_KEY',
  'SIGNING_KEYS_PREVIOUS_ENCRYPTION_KEYS',
]);

/** 32 bytes in base64 or base64url (`openssl rand -base64 32`), or undefined. */
const encryptionKeyOf = (text: string): Buffer | undefined => {
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(text.trim())) return undefined;
  const key = Buffer.from(text.trim(), 'base64');
  return key.length === 32 ? key : undefined;
};

export class EnvironmentVariables {
  @IsIn(['development', 'test', 'production'])
  NODE_ENV = 'development';

  @IsString()
  HOST = '0.0.0.0';

  @Transform(toInt) @IsInt() @Min(0) @Max(65535)
  PORT = 3000;

  @Matches(/^postgres(ql)?:\/\/.+/, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/tokex';

  @Transform(toInt) @IsInt() @Min(1) @Max(500)
  DB_POOL_SIZE = 20;

  @Transform(toBool) @IsBoolean()
  DB_MIGRATE = false;

  @Matches(/^rediss?:\/\/.+/, { message: 'REDIS_URL must be a redis:// URL' })
  REDIS_URL = 'redis://127.0.0.1:6379';

  @Matches(/^[a-z0-9_-]{1,32}$/i, { message: 'QUEUE_PREFIX must be 1 to 32 letters, digits, _ or -' })
  QUEUE_PREFIX = 'tokex';

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  @Transform(toBool) @IsBoolean()
  LOG_HTTP_REQUESTS = true;

  @Transform(toBool) @IsBoolean()
  LOG_PRETTY = false;

  /** The raw API key of the first admin, created at start-up when no admin exists. Empty: none. */
  @ValidateIf((env: EnvironmentVariables) => env.BOOTSTRAP_ADMIN_KEY !== '')
  @IsString() @MinLength(32, { message: 'BOOTSTRAP_ADMIN_KEY must be at least 32 characters' })
  BOOTSTRAP_ADMIN_KEY = '';

  /**
   * Signs the ops console's session and CSRF cookies; every API process must share it. Empty: a
   * random secret per process (sessions end on restart and do not cross processes).
   */
  @ValidateIf((env: EnvironmentVariables) => env.OPS_SESSION_SECRET !== '')
  @IsString() @MinLength(32, { message: 'OPS_SESSION_SECRET must be at least 32 characters' })
  OPS_SESSION_SECRET = '';

  /** How long an ops console session lasts after sign-in. */
  @Transform(toInt) @IsInt() @Min(60_000)
  OPS_SESSION_TTL_MS = 8 * 3_600_000;

  /**
   * Encrypts the delivery-key signing keys at rest (AES-256-GCM): 32 bytes in base64. Set, any
   * row stored in plaintext or under a previous key is sealed with it at start-up. Empty: stored
   * in plaintext (development only).
   */
  @IsString()
  SIGNING_KEYS_ENCRYPTION_KEY = '';

  /** While rotating SIGNING_KEYS_ENCRYPTION_KEY: the keys it replaces, comma-separated, to open rows sealed under them. */
  @IsString()
  SIGNING_KEYS_PREVIOUS_ENCRYPTION_KEYS = '';

  @Transform(toInt) @IsInt() @Min(0)
  RATE_LIMIT_PER_SECOND = 100;

  @Transform(toInt) @IsInt() @Min(0) @Max(600_000)
  API_KEY_CACHE_TTL_MS = 2_000;

  /** API keys per minute that one client address may present unverified before 429s (0: no limit). */
  @Transform(toInt) @IsInt() @Min(0)
  AUTH_FAILURES_PER_MINUTE = 60;

  /**
   * Proxies in front of the API whose X-Forwarded-For entries are trusted for the client's address
   * (the failed-authentication limit is per address). 0: the connection's own peer.
   */
  @Transform(toInt) @IsInt() @Min(0) @Max(10)
  TRUST_PROXY_HOPS = 0;

  @Transform(toInt) @IsInt() @Min(10) @Max(60_000)
  OUTBOX_SWEEP_INTERVAL_MS = 500;

  @Transform(toInt) @IsInt() @Min(1_000)
  OUTBOX_REDISPATCH_AFTER_MS = 30_000;

  @Transform(toInt) @IsInt() @Min(1) @Max(100)
  JOB_ATTEMPTS = 8;

  @Transform(toInt) @IsInt() @Min(10)
  JOB_BACKOFF_MS = 1_000;

  @Transform(toInt) @IsInt() @Min(1) @Max(256)
  WORKER_CONCURRENCY = 8;

  @Transform(toInt) @IsInt() @Min(1_000)
  LEDGER_CHECK_INTERVAL_MS = 300_000;

  @Transform(toInt) @IsInt() @Min(100)
  NODE_PROBE_INTERVAL_MS = 10_000;

  @Transform(toInt) @IsInt() @Min(100) @Max(60_000)
  NODE_PROBE_TIMEOUT_MS = 2_000;

  /**
   * Whether providers' node URLs may point at loopback, private, link-local or other non-public
   * addresses (registration refuses them and the worker never calls them otherwise). Tests and
   * local development, whose nodes run on 127.0.0.1, only: it lets a provider aim the worker at
   * the exchange's own network.
   */
  @Transform(toBool) @IsBoolean()
  NODE_URLS_ALLOW_PRIVATE = false;

  /** How often the worker looks for overdue GTD orders on books no process serves. */
  @Transform(toInt) @IsInt() @Min(100)
  ORDER_EXPIRY_INTERVAL_MS = 5_000;

  /** How often the worker marks forwards for the days that ended and expires those past their last trade. */
  @Transform(toInt) @IsInt() @Min(100)
  FORWARD_MARK_INTERVAL_MS = 60_000;

  /** How often the worker lists the contracts forward series have due (an admin's new series lists at once). */
  @Transform(toInt) @IsInt() @Min(1_000)
  FORWARD_LISTING_INTERVAL_MS = 3_600_000;

  /** How often the node counters of nodes that owe a delivery are scraped (reconciliation). */
  @Transform(toInt) @IsInt() @Min(100)
  METERING_SCRAPE_INTERVAL_MS = 10_000;

  /** How often, at least, the exchange sends an audit request through each node that owes a delivery. */
  @Transform(toInt) @IsInt() @Min(100)
  METERING_AUDIT_INTERVAL_MS = 60_000;

  /** A node is also audited once it has reported this many requests since its last audit (0: by time only). */
  @Transform(toInt) @IsInt() @Min(0)
  METERING_AUDIT_EVERY_REQUESTS = 50;

  /** Tokens an audit request asks for: long enough that a 1 % inflation is beyond the 2-token tolerance (docs/metering.md). */
  @Transform(toInt) @IsInt() @Min(1) @Max(4096)
  METERING_AUDIT_MAX_TOKENS = 320;

  /**
   * Usage ingest yields to order entry in the same process: order batches slower than this many
   * milliseconds on average slow ingest down (docs/metering.md, "Ingest yields to order entry").
   * 0 (the default): ingest never waits for order entry.
   */
  @Transform(toInt) @IsInt() @Min(0) @Max(10_000)
  INGEST_YIELD_TARGET_MS = 0;

  /** How often verified usage is paid out (the payout lag's main part). */
  @Transform(toInt) @IsInt() @Min(50)
  SETTLEMENT_PAYOUT_INTERVAL_MS = 250;

  /** How often delivery windows past their close are settled. */
  @Transform(toInt) @IsInt() @Min(100)
  SETTLEMENT_CLOSE_INTERVAL_MS = 10_000;

  /** How long after a window ends its close waits, so usage reported late can still be paid. */
  @Transform(toInt) @IsInt() @Min(0)
  SETTLEMENT_CLOSE_GRACE_MS = 300_000;

  @Transform(toInt) @IsInt() @Min(100)
  SHUTDOWN_TIMEOUT_MS = 10_000;

  /** How often the scorecards fold new verified usage, resolved disputes, closes and probes (docs/scorecards.md). */
  @Transform(toInt) @IsInt() @Min(100)
  SCORECARD_FOLD_INTERVAL_MS = 30_000;

  /**
   * How many times faster than real time the injectable `Clock` runs (forward marks, expiry and
   * listing read it; the order path, delivery windows and settlement do not). Above 1 only for
   * demos (`npm run demo`), never in production.
   */
  @Transform(toInt) @IsInt() @Min(1) @Max(100_000)
  CLOCK_RATE = 1;

  /**
   * With CLOCK_RATE above 1: the real instant (ISO 8601) at which the fast clock reads real time
   * and from which it runs ahead. Processes that share it agree on the time. Empty: the process's start.
   */
  @ValidateIf((env: EnvironmentVariables) => env.CLOCK_ANCHOR !== '')
  @Matches(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/, { message: 'CLOCK_ANCHOR must be an ISO 8601 instant with a zone' })
  CLOCK_ANCHOR = '';
}

export type ProcessRole = 'api' | 'worker' | 'all';

/** The typed configuration the modules receive. */
export interface AppConfig {
  readonly env: EnvironmentVariables['NODE_ENV'];
  readonly role: ProcessRole;
  readonly http: {
    host: string;
    port: number;
    logRequests: boolean;
    /** Per participant, over all its keys. */
    rateLimitPerSecond: number;
    apiKeyCacheTtlMs: number;
    authFailuresPerMinute: number;
    trustProxyHops: number;
  };
  readonly database: { url: string; poolSize: number; migrate: boolean };
  readonly redis: { url: string; queuePrefix: string };
  readonly log: { level: string; pretty: boolean };
  readonly bootstrapAdminKey: string | null;
  readonly ops: { sessionSecret: string | null; sessionTtlMs: number };
  /** Delivery-key signing keys at rest: the key that seals them (none: plaintext), and earlier ones that still open them. */
  readonly signingKeys: { encryptionKey: Buffer | null; previousEncryptionKeys: Buffer[] };
  readonly jobs: {
    attempts: number;
    backoffMs: number;
    concurrency: number;
    outboxSweepIntervalMs: number;
    outboxRedispatchAfterMs: number;
    ledgerCheckIntervalMs: number;
    /** How often enabled nodes with an open delivery window are health-probed; also the probes' freshness unit in breach evidence. */
    nodeProbeIntervalMs: number;
    nodeProbeTimeoutMs: number;
    orderExpiryIntervalMs: number;
    forwardMarkIntervalMs: number;
    forwardListingIntervalMs: number;
    meteringScrapeIntervalMs: number;
    meteringAuditIntervalMs: number;
    settlementPayoutIntervalMs: number;
    settlementCloseIntervalMs: number;
    settlementCloseGraceMs: number;
    scorecardFoldIntervalMs: number;
  };
  readonly metering: { auditMaxTokens: number; auditIntervalMs: number; auditEveryRequests: number; ingestYieldTargetMs: number };
  /** Providers' node URLs: whether non-public addresses are allowed (platform/net/address-policy.ts). */
  readonly nodeUrls: { allowPrivate: boolean };
  readonly shutdownTimeoutMs: number;
  /** The injectable Clock: `rate` times real time from `anchorMs` (epoch ms), or real time at rate 1. */
  readonly clock: { rate: number; anchorMs: number | null };
}

export class ConfigurationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigurationError';
  }
}

/** Reads and validates the environment; throws ConfigurationError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>, role: ProcessRole): AppConfig {
  const known = Object.keys(new EnvironmentVariables());
  const present = Object.fromEntries(known.filter((k) => env[k] !== undefined && env[k] !== '').map((k) => [k, env[k]]));
  const vars = plainToInstance(EnvironmentVariables, present);
  const problems = validateSync(vars, { forbidUnknownValues: true }).flatMap((error) =>
    Object.values(error.constraints ?? {}).map((message) =>
      message.startsWith(error.property) ? message : `${error.property}: ${message}`,
    ),
  );
  // A fast clock would mark and expire real forwards days early: never in production.
  if (vars.NODE_ENV === 'production' && vars.CLOCK_RATE !== 1) problems.push('CLOCK_RATE must be 1 when NODE_ENV is production');
  const encryptionKey = vars.SIGNING_KEYS_ENCRYPTION_KEY === '' ? null : encryptionKeyOf(vars.SIGNING_KEYS_ENCRYPTION_KEY);
  if (encryptionKey === undefined) problems.push('SIGNING_KEYS_ENCRYPTION_KEY must be 32 bytes in base64 (openssl rand -base64 32)');
  const previousKeys = vars.SIGNING_KEYS_PREVIOUS_ENCRYPTION_KEYS.split(',').filter((k) => k.trim() !== '').map(encryptionKeyOf);
  if (previousKeys.some((k) => k === undefined)) problems.push('SIGNING_KEYS_PREVIOUS_ENCRYPTION_KEYS must be keys of 32 bytes in base64, comma-separated');
  if (problems.length > 0) throw new ConfigurationError(problems);
  return {
    env: vars.NODE_ENV,
    role,
    http: {
      host: vars.HOST,
      port: vars.PORT,
      logRequests: vars.LOG_HTTP_REQUESTS,
      rateLimitPerSecond: vars.RATE_LIMIT_PER_SECOND,
      apiKeyCacheTtlMs: vars.API_KEY_CACHE_TTL_MS,
      authFailuresPerMinute: vars.AUTH_FAILURES_PER_MINUTE,
      trustProxyHops: vars.TRUST_PROXY_HOPS,
    },
    database: { url: vars.DATABASE_URL, poolSize: vars.DB_POOL_SIZE, migrate: vars.DB_MIGRATE },
    redis: { url: vars.REDIS_URL, queuePrefix: vars.QUEUE_PREFIX },
    log: { level: vars.LOG_LEVEL, pretty: vars.LOG_PRETTY },
    bootstrapAdminKey: vars.BOOTSTRAP_ADMIN_KEY === '' ? null : vars.BOOTSTRAP_ADMIN_KEY,
    ops: { sessionSecret: vars.OPS_SESSION_SECRET === '' ? null : vars.OPS_SESSION_SECRET, sessionTtlMs: vars.OPS_SESSION_TTL_MS },
    signingKeys: { encryptionKey: encryptionKey ?? null, previousEncryptionKeys: previousKeys as Buffer[] },
    jobs: {
      attempts: vars.JOB_ATTEMPTS,
      backoffMs: vars.JOB_BACKOFF_MS,
      concurrency: vars.WORKER_CONCURRENCY,
      outboxSweepIntervalMs: vars.OUTBOX_SWEEP_INTERVAL_MS,
      outboxRedispatchAfterMs: vars.OUTBOX_REDISPATCH_AFTER_MS,
      ledgerCheckIntervalMs: vars.LEDGER_CHECK_INTERVAL_MS,
      nodeProbeIntervalMs: vars.NODE_PROBE_INTERVAL_MS,
      nodeProbeTimeoutMs: vars.NODE_PROBE_TIMEOUT_MS,
      orderExpiryIntervalMs: vars.ORDER_EXPIRY_INTERVAL_MS,
      forwardMarkIntervalMs: vars.FORWARD_MARK_INTERVAL_MS,
      forwardListingIntervalMs: vars.FORWARD_LISTING_INTERVAL_MS,
      meteringScrapeIntervalMs: vars.METERING_SCRAPE_INTERVAL_MS,
      meteringAuditIntervalMs: vars.METERING_AUDIT_INTERVAL_MS,
      settlementPayoutIntervalMs: vars.SETTLEMENT_PAYOUT_INTERVAL_MS,
      settlementCloseIntervalMs: vars.SETTLEMENT_CLOSE_INTERVAL_MS,
      settlementCloseGraceMs: vars.SETTLEMENT_CLOSE_GRACE_MS,
      scorecardFoldIntervalMs: vars.SCORECARD_FOLD_INTERVAL_MS,
    },
    metering: {
      auditMaxTokens: vars.METERING_AUDIT_MAX_TOKENS,
      auditIntervalMs: vars.METERING_AUDIT_INTERVAL_MS,
      auditEveryRequests: vars.METERING_AUDIT_EVERY_REQUESTS,
      ingestYieldTargetMs: vars.INGEST_YIELD_TARGET_MS,
    },
    nodeUrls: { allowPrivate: vars.NODE_URLS_ALLOW_PRIVATE },
    shutdownTimeoutMs: vars.SHUTDOWN_TIMEOUT_MS,
    clock: { rate: vars.CLOCK_RATE, anchorMs: vars.CLOCK_ANCHOR === '' ? null : Date.parse(vars.CLOCK_ANCHOR) },
  };
}

/** The environment variables with their defaults, for `.env.example` and the README. */
export function defaultVariables(): Record<string, string> {
  return Object.fromEntries(Object.entries(new EnvironmentVariables()).map(([k, v]) => [k, String(v)]));
}

export const APP_CONFIG = Symbol('APP_CONFIG');
