import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { Redis } from 'ioredis';

/** A TCP port free on 127.0.0.1 now, for a child service to listen on. */
export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** xorshift32 in [0, 1): a seeded generator, so a benchmark's workload can be replayed. */
export function random(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** One JSON call to the service under test with an API key; throws on a non-2xx answer. */
export async function api(baseUrl: string, method: string, path: string, key: string, body?: unknown): Promise<any> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Removes a run's queues and job schedulers from Redis, so runs do not pile up there. */
export async function forgetQueues(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

export interface ApiProcess {
  readonly child: ChildProcess;
  readonly url: string;
}

/**
 * The built service, api role, as in production (`node dist/src/main.js api`), on the given
 * database and Redis. With LOG_LEVEL=warn it logs nothing on start, so readiness is asked of
 * /health. `profileDir`: the service writes a V8 CPU profile there when it stops.
 */
export async function startApi(options: {
  readonly database: string;
  readonly redis: string;
  readonly adminKey: string;
  /** Its queue prefix starts with this. */
  readonly name: string;
  readonly profileDir?: string;
  readonly env?: Record<string, string>;
  /** Node and V8 flags for the service (e.g. `--max-semi-space-size=64`). */
  readonly nodeFlags?: readonly string[];
}): Promise<ApiProcess> {
  const port = await freePort();
  const profile = options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : [];
  const child = spawn(process.execPath, [...profile, ...(options.nodeFlags ?? []), MAIN, 'api'], {
    env: {
      ...serviceEnv(options.database, options.redis, `${options.name}-${randomUUID().slice(0, 8)}`),
      RATE_LIMIT_PER_SECOND: '0',
      LOG_HTTP_REQUESTS: 'false',
      BOOTSTRAP_ADMIN_KEY: options.adminKey,
      PORT: String(port),
      HOST: '127.0.0.1',
      NODE_URLS_ALLOW_PRIVATE: 'true', // the benchmarks' nodes are on 127.0.0.1
      ...options.env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await healthy(child, url);
  return { child, url };
}

/** Waits until a starting service answers `path` (asked every 20 ms); fails if it exits first, or after a minute. */
export async function healthy(child: ChildProcess, url: string, path = '/health'): Promise<void> {
  let exited = child.exitCode !== null;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error('the service exited during start-up (see its output above)');
    if (await fetch(`${url}${path}`).then((r) => r.ok, () => false)) return;
    if (Date.now() > deadline) throw new Error(`the service did not answer ${path} within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Stops a child process (SIGTERM, or the given signal) and waits for it to exit. */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

/** What every benchmark's child service starts with: production mode, its database and queues, migrations applied, warnings only. */
export function serviceEnv(database: string, redis: string, queuePrefix: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'production',
    DATABASE_URL: database,
    REDIS_URL: redis,
    QUEUE_PREFIX: queuePrefix,
    DB_MIGRATE: 'true',
    LOG_LEVEL: 'warn',
  };
}
