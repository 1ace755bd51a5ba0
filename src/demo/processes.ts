import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';

/** A process the demo started: its output goes to a log file; `stop` ends it and waits. */
export interface DemoProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly child: ChildProcess;
  /** Resolves with the first output line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export function startProcess(name: string, args: string[], env: Record<string, string>, logFile: string): DemoProcess {
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logFile, { flags: 'a' });
  let tail = '';
  const waiters = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    log.write(chunk);
    tail = (tail + chunk.toString()).slice(-64_000);
    for (const waiter of waiters) waiter();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => log.end());
  return {
    name,
    pid: child.pid!,
    logFile,
    child,
    waitForLine(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = tail.split('\n').find((l) => pattern.test(l));
          if (line !== undefined) done(() => resolve(line));
          else if (child.exitCode !== null) done(() => reject(new Error(`${name} exited (code ${child.exitCode}); see ${logFile}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`${name}: no line matching ${pattern} within ${timeoutMs} ms; see ${logFile}`))), timeoutMs);
        const done = (then: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', check);
          then();
        };
        waiters.add(check);
        child.on('exit', check);
        check();
      });
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Whether a process with this pid still exists. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `preferred` if it is free on 127.0.0.1, else the next free port above it (up to 100 tries). */
export async function freePort(preferred = 0): Promise<number> {
  for (let port = preferred; port < preferred + 100 || preferred === 0; port++) {
    const got = await new Promise<number | undefined>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(port, '127.0.0.1', () => {
        const { port: bound } = server.address() as { port: number };
        server.close(() => resolve(bound));
      });
    });
    if (got !== undefined) return got;
    if (preferred === 0) break;
  }
  throw new Error(`no free port from ${preferred}`);
}

/** Polls `probe` until it returns a value, or throws after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
