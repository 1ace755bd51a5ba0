import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { RemoteDeliveryKeys } from '../protocol/delivery-key-verifier.js';
import { MAX_RECORDS_PER_BATCH } from '../protocol/usage-batch.js';
import { UsagePoster } from './poster.js';
import { type AgentLog, createProxyServer, type LogLevel } from './proxy.js';
import { errorText, UsageSpool } from './spool.js';

/**
 * The tokex node agent: runs next to a provider's OpenAI-compatible inference server, lets in
 * buyers holding a delivery key for this node's provider and model class, and reports the usage
 * it served to tokex in signed batches (the v1 protocol of ../shared/spec/api.md). See
 * docs/node-agent.md.
 *
 *   node dist/src/node-agent/main.js            (configured by environment variables)
 *   node dist/src/node-agent/main.js --model-class llama-3.1-70b-instruct ...   (flags override them)
 *
 * Deliberately framework-free: node:http, fetch, and two pure modules of the exchange.
 */

export interface NodeAgentConfig {
  /** tokex's base URL: delivery keys come from it, usage batches go to it. */
  readonly tokexUrl: string;
  readonly nodeId: string;
  readonly providerId: string;
  /** The model class this node serves (its registration's modelClassId). */
  readonly modelClass: string;
  /** The node's Ed25519 private key (PEM or KeyObject): signs the usage batches. */
  readonly privateKey: KeyObject | string;
  /** The inference server's OpenAI base URL, e.g. http://127.0.0.1:8000/v1 */
  readonly upstreamUrl: string;
  readonly upstreamApiKey?: string;
  /** The inference server's Prometheus metrics, served again at the agent's GET /metrics. Default: /metrics at upstreamUrl's origin. */
  readonly upstreamMetricsUrl?: string;
  readonly spoolDir: string;
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** Default 0.0.0.0 */
  readonly host?: string;
  /** Default 1000. */
  readonly batchMaxRecords?: number;
  /** Default 1000. */
  readonly flushIntervalMs?: number;
  /** Default 30000. */
  readonly keysRefreshMs?: number;
  /** How long in-flight requests may run on after close() before their connections are cut. Default 10000. */
  readonly shutdownGraceMs?: number;
  /** How long close() tries to post what is spooled. Default 5000. */
  readonly closeFlushTimeoutMs?: number;
  /** Longest wait between two attempts to post a batch. Default 30000. */
  readonly maxBackoffMs?: number;
  readonly log?: AgentLog;
}

export interface NodeAgent {
  /** Where buyers' clients reach the agent, e.g. http://127.0.0.1:8080 (append /v1 for an OpenAI baseURL). */
  readonly url: string;
  /** Seals what is spooled and posts it now; resolves when the spool is empty, rejects after `timeoutMs`. */
  flush(timeoutMs?: number): Promise<void>;
  /** Stops accepting, lets in-flight requests finish, seals the spool and tries to post it, then stops. */
  close(): Promise<void>;
}

const FIRST_KEYS_RETRY_MS = 1_000;
const MAX_KEYS_RETRY_MS = 30_000;

export async function startNodeAgent(config: NodeAgentConfig): Promise<NodeAgent> {
  const log: AgentLog = config.log ?? (() => undefined);
  const privateKey = typeof config.privateKey === 'string' ? createPrivateKey(config.privateKey) : config.privateKey;
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('the node key must be an Ed25519 private key');

  const spool = await UsageSpool.open({
    dir: config.spoolDir,
    nodeId: config.nodeId,
    batchMaxRecords: config.batchMaxRecords,
    flushIntervalMs: config.flushIntervalMs,
    log,
  });
  const poster = new UsagePoster({ spool, tokexUrl: config.tokexUrl, privateKey, log, maxBackoffMs: config.maxBackoffMs });
  poster.start();

  const keys = new RemoteDeliveryKeys({
    tokexUrl: config.tokexUrl,
    providerId: config.providerId,
    refreshMs: config.keysRefreshMs,
    onRefreshError: (error) => log('warn', "refreshing tokex's delivery keys failed; the last good ones stay in use", { err: errorText(error) }),
  });
  keys.start();
  // Until tokex's keys have loaded once, requests get 503; keep trying, faster than refreshMs.
  let keysRetry: NodeJS.Timeout | null = null;
  const loadKeys = (delayMs: number) => {
    keys.refresh().then(
      () => log('info', "tokex's delivery keys loaded"),
      (error: unknown) => {
        log('warn', "tokex's delivery keys could not be loaded; requests are refused with 503 until they are", { err: errorText(error), retryInMs: delayMs });
        keysRetry = setTimeout(() => loadKeys(Math.min(delayMs * 2, MAX_KEYS_RETRY_MS)), delayMs);
        keysRetry.unref();
      },
    );
  };
  await keys.refresh().catch((error: unknown) => {
    log('warn', "tokex's delivery keys could not be loaded; requests are refused with 503 until they are", { err: errorText(error) });
    keysRetry = setTimeout(() => loadKeys(FIRST_KEYS_RETRY_MS * 2), FIRST_KEYS_RETRY_MS);
    keysRetry.unref();
  });

  let accepting = true;
  const server = createProxyServer({
    keys,
    modelClass: config.modelClass,
    upstreamUrl: config.upstreamUrl,
    upstreamApiKey: config.upstreamApiKey,
    upstreamMetricsUrl: config.upstreamMetricsUrl,
    log,
    isAccepting: () => accepting,
    describe: () => ({ spool: { pendingRecords: spool.pendingRecords, pendingBatches: spool.pendingBatches.length, postFailures: poster.consecutiveFailures } }),
    onRecord: (record) => {
      spool.append(record).catch((error: unknown) => log('error', 'a usage record could not be spooled', { err: errorText(error), record }));
    },
  });
  const host = config.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port ?? 8080, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${urlHost(host)}:${port}`;

  async function flush(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await spool.seal();
    poster.kick();
    while (spool.pendingBatches.length > 0 || spool.pendingRecords > 0) {
      if (Date.now() > deadline) {
        throw new Error(
          `the usage spool did not empty within ${timeoutMs} ms: ${spool.pendingBatches.length} batches, ${spool.pendingRecords} records left (they stay on disk)`,
        );
      }
      await delay(20);
      if (spool.pendingRecords > 0) await spool.seal();
    }
  }

  let closing: Promise<void> | null = null;
  async function close(): Promise<void> {
    accepting = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Idle keep-alive connections would hold close() open; busy ones finish their answer first.
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    server.closeIdleConnections();
    let graceTimer: NodeJS.Timeout | undefined;
    const graceOver = await Promise.race([
      closed.then(() => false),
      new Promise<boolean>((resolve) => (graceTimer = setTimeout(() => resolve(true), config.shutdownGraceMs ?? 10_000))),
    ]);
    clearTimeout(graceTimer);
    clearInterval(sweep);
    if (graceOver) {
      log('warn', 'requests still running at shutdown were cut off');
      server.closeAllConnections();
      await closed;
    }
    keys.stop();
    if (keysRetry) clearTimeout(keysRetry);
    try {
      await flush(config.closeFlushTimeoutMs ?? 5_000);
    } catch (error) {
      log('warn', 'usage left in the spool at shutdown; it is posted at the next start', { err: errorText(error) });
    }
    await poster.stop();
    await spool.close();
  }

  return {
    url,
    flush,
    close: () => (closing ??= close()),
  };
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

// ---------------------------------------------------------------------------------------------
// Configuration: read once from the environment (command-line flags override it), validated, and
// failing with every bad variable named. NODE_PRIVATE_KEY and UPSTREAM_API_KEY are never printed.

export class NodeAgentConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid node agent configuration: ${problems.join('; ')}`);
    this.name = 'NodeAgentConfigError';
  }
}

export interface NodeAgentEnvConfig extends NodeAgentConfig {
  readonly port: number;
  readonly host: string;
  readonly logLevel: LogLevel;
}

export const NODE_AGENT_VARIABLES = [
  'TOKEX_URL',
  'NODE_ID',
  'PROVIDER_ID',
  'MODEL_CLASS',
  'NODE_PRIVATE_KEY',
  'NODE_PRIVATE_KEY_FILE',
  'UPSTREAM_URL',
  'UPSTREAM_API_KEY',
  'UPSTREAM_METRICS_URL',
  'PORT',
  'HOST',
  'SPOOL_DIR',
  'BATCH_MAX_RECORDS',
  'FLUSH_INTERVAL_MS',
  'KEYS_REFRESH_MS',
  'LOG_LEVEL',
] as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// The model-class slug delivery keys carry (`mdl`, delivery-key-verifier.ts).
const MODEL_CLASS_ID = /^[a-z0-9][a-z0-9.-]{0,62}[a-z0-9]$/;
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Reads the configuration from `env`, with `--kebab-case value` flags in `argv` taking precedence. */
export function configFromEnv(env: NodeJS.ProcessEnv, argv: readonly string[] = []): NodeAgentEnvConfig {
  const problems: string[] = [];
  const values: Record<string, string | undefined> = {};
  for (const name of NODE_AGENT_VARIABLES) values[name] = env[name];
  for (let i = 0; i < argv.length; i += 1) {
    const match = /^--([a-z][a-z-]*)(?:=(.*))?$/s.exec(argv[i]!);
    const name = match?.[1]?.toUpperCase().replace(/-/g, '_');
    if (!match || !(NODE_AGENT_VARIABLES as readonly string[]).includes(name!)) {
      problems.push(`unknown argument "${argv[i]}"`);
      continue;
    }
    const value = match[2] ?? argv[++i];
    if (value === undefined) problems.push(`--${match[1]} needs a value`);
    else values[name!] = value;
  }
  const get = (name: string) => {
    const value = values[name]?.trim();
    return value === '' ? undefined : value;
  };
  const required = (name: string, check: (v: string) => boolean, rule: string): string => {
    const value = get(name);
    if (value === undefined) problems.push(`${name} is required (${rule})`);
    else if (!check(value)) problems.push(`${name} must be ${rule}`);
    return value ?? '';
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const value = get(name);
    if (value === undefined) return fallback;
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };

  const tokexUrl = required('TOKEX_URL', isHttpUrl, 'an http:// or https:// URL, e.g. https://api.tokex.example');
  const nodeId = required('NODE_ID', (v) => UUID.test(v), 'the UUID tokex gave the node when it was registered');
  const providerId = required('PROVIDER_ID', (v) => UUID.test(v), "the provider's participant UUID");
  const modelClass = required('MODEL_CLASS', (v) => MODEL_CLASS_ID.test(v), 'a model-class id such as llama-3.1-70b-instruct');
  const upstreamUrl = required('UPSTREAM_URL', isHttpUrl, "the inference server's OpenAI base URL, e.g. http://127.0.0.1:8000/v1");
  const upstreamMetricsUrl = get('UPSTREAM_METRICS_URL');
  if (upstreamMetricsUrl !== undefined && !isHttpUrl(upstreamMetricsUrl)) {
    problems.push("UPSTREAM_METRICS_URL must be the inference server's Prometheus URL, e.g. http://127.0.0.1:8000/metrics");
  }
  const spoolDir = required('SPOOL_DIR', () => true, 'a directory on persistent storage for the usage spool');
  const privateKey = readPrivateKey(get('NODE_PRIVATE_KEY'), get('NODE_PRIVATE_KEY_FILE'), problems);
  const logLevel = (get('LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  const config: NodeAgentEnvConfig = {
    tokexUrl,
    nodeId: nodeId.toLowerCase(),
    providerId: providerId.toLowerCase(),
    modelClass,
    privateKey: privateKey as KeyObject,
    upstreamUrl,
    upstreamApiKey: get('UPSTREAM_API_KEY'),
    upstreamMetricsUrl,
    spoolDir,
    port: integer('PORT', 8080, 0, 65_535),
    host: get('HOST') ?? '0.0.0.0',
    batchMaxRecords: integer('BATCH_MAX_RECORDS', 1_000, 1, MAX_RECORDS_PER_BATCH),
    flushIntervalMs: integer('FLUSH_INTERVAL_MS', 1_000, 50, 3_600_000),
    keysRefreshMs: integer('KEYS_REFRESH_MS', 30_000, 1_000, 3_600_000),
    logLevel,
  };
  if (problems.length > 0) throw new NodeAgentConfigError(problems);
  return config;
}

function readPrivateKey(pem: string | undefined, file: string | undefined, problems: string[]): KeyObject | undefined {
  if (pem !== undefined && file !== undefined) {
    problems.push('set NODE_PRIVATE_KEY or NODE_PRIVATE_KEY_FILE, not both');
    return undefined;
  }
  const name = pem !== undefined ? 'NODE_PRIVATE_KEY' : 'NODE_PRIVATE_KEY_FILE';
  let text = pem?.replace(/\\n/g, '\n'); // a PEM squeezed into one line of an env file
  if (text === undefined && file !== undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      problems.push(`NODE_PRIVATE_KEY_FILE cannot be read: ${(error as NodeJS.ErrnoException).code ?? errorText(error)}`);
      return undefined;
    }
  }
  if (text === undefined) {
    problems.push('NODE_PRIVATE_KEY (a PEM) or NODE_PRIVATE_KEY_FILE (its path) is required: the Ed25519 key that signs usage batches');
    return undefined;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch {
    problems.push(`${name} must hold a PEM private key (openssl genpkey -algorithm ed25519)`); // never echo the value
    return undefined;
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    problems.push(`${name} must be an Ed25519 key, not ${key.asymmetricKeyType ?? 'unknown'}`);
    return undefined;
  }
  return key;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

/** One JSON object per line on stdout: { time, level, msg, ...fields }. */
export function jsonLineLog(minLevel: LogLevel = 'info', write: (line: string) => void = (line) => process.stdout.write(line)): AgentLog {
  const threshold = LOG_LEVELS.indexOf(minLevel);
  return (level, msg, fields = {}) => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
  };
}

async function main(): Promise<void> {
  let config: NodeAgentEnvConfig;
  try {
    config = configFromEnv(process.env, process.argv.slice(2));
  } catch (error) {
    jsonLineLog()('error', errorText(error));
    process.exit(1);
  }
  const log = jsonLineLog(config.logLevel);
  const agent = await startNodeAgent({ ...config, log });
  log('info', 'tokex node agent listening', {
    url: agent.url,
    nodeId: config.nodeId,
    providerId: config.providerId,
    modelClass: config.modelClass,
    tokexUrl: config.tokexUrl,
    upstreamUrl: config.upstreamUrl,
    upstreamMetricsUrl: config.upstreamMetricsUrl ?? null,
    spoolDir: config.spoolDir,
  });
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log('info', 'shutting down', { signal });
      agent.close().then(
        () => {
          log('info', 'stopped');
          process.exit(0);
        },
        (error: unknown) => {
          log('error', 'shutdown failed', { err: errorText(error) });
          process.exit(1);
        },
      );
    });
  }
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main().catch((error: unknown) => {
    jsonLineLog()('error', 'the node agent failed to start', { err: errorText(error) });
    process.exit(1);
  });
}
