import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { BOOTSTRAP_ADMIN_KEY, TEST_DATABASE_URL, TEST_REDIS_URL } from './test-env.js';

const MAIN = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));
const NODE_AGENT = fileURLToPath(new URL('../../dist/src/node-agent/main.js', import.meta.url));

export interface ChildService {
  readonly process: ChildProcess;
  readonly output: () => string;
  /** Resolves with the first log line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code. */
  exited(): Promise<number | null>;
}

/**
 * The environment of a service child process serving HTTP on the test database and Redis: its own
 * queue prefix (shared by every process started with this one environment), a free loopback port,
 * no rate limits, no request logs, and node URLs on loopback allowed.
 */
export function childServiceEnv(name: string): Record<string, string> {
  return {
    DATABASE_URL: TEST_DATABASE_URL,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: `${name}-${randomUUID().slice(0, 8)}`,
    DB_MIGRATE: 'true',
    LOG_HTTP_REQUESTS: 'false',
    RATE_LIMIT_PER_SECOND: '0',
    NODE_URLS_ALLOW_PRIVATE: 'true', // the tests' nodes listen on 127.0.0.1
    AUTH_FAILURES_PER_MINUTE: '0',
    BOOTSTRAP_ADMIN_KEY,
    PORT: '0',
    HOST: '127.0.0.1',
  };
}

export interface Answer {
  readonly status: number;
  readonly body: any;
}

/** One HTTP request to a child service, with its JSON answer parsed. */
export async function callService(baseUrl: string, method: string, path: string, key?: string, body?: unknown, timeoutMs = 20_000): Promise<Answer> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** The answer, if it has `status`; otherwise an error that shows what came back. */
export async function expectStatus(answer: Promise<Answer>, status: number, what = ''): Promise<Answer> {
  const a = await answer;
  if (a.status !== status) throw new Error(`${what ? `${what}: ` : ''}expected ${status}, got ${a.status}: ${JSON.stringify(a.body)}`);
  return a;
}

/**
 * Runs the built service (`dist/`, made by `npm run build`, which `npm test` runs first) as a real
 * child process, the way `npm run start:api|start:worker` does.
 */
export function spawnService(role: string, env: Record<string, string>): ChildService {
  return spawnScript([MAIN, role], env);
}

export interface NodeAgentProcess extends ChildService {
  readonly url: string;
  readonly env: Record<string, string>;
  /** SIGTERM, and wait for the exit (the agent seals and posts its spool first). */
  stop(): Promise<void>;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
}

/** The built node agent (`npm run start:node-agent`) as a child process; resolves once it listens. */
export async function spawnNodeAgent(env: Record<string, string>): Promise<NodeAgentProcess> {
  const child = spawnScript([NODE_AGENT], env);
  const line = await child.waitForLine(/tokex node agent listening/);
  const end = async (signal: NodeJS.Signals) => {
    if (child.process.exitCode !== null || child.process.signalCode !== null) return;
    child.process.kill(signal);
    await child.exited();
  };
  return { ...child, url: JSON.parse(line).url as string, env, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
}

function spawnScript(args: string[], env: Record<string, string>): ChildService {
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const listeners = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return {
    process: child,
    output: () => output,
    waitForLine(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = output.split('\n').find((l) => pattern.test(l));
          if (line !== undefined) {
            cleanup();
            resolve(line);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${output}`));
        }, timeoutMs);
        const onExit = () => {
          check();
          cleanup();
          reject(new Error(`process exited before a line matching ${pattern}; output:\n${output}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
        };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    exited: () => exit,
  };
}
