/**
 * Load for `bench/orders.bench.ts`: the order mix, an open-loop fixed-rate HTTP generator, and a
 * CPU meter that splits a phase's CPU time between the service, PostgreSQL and the generator.
 */
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import * as hdr from 'hdr-histogram-js';

export interface Trader {
  readonly id: string;
  readonly key: string;
}

export interface OrderRequest {
  readonly key: string;
  readonly body: string;
}

/**
 * Realistic mixed orders: buyers and providers in turn (round-robin over each side's keys), limit
 * prices within ±SPREAD ticks of a fixed mid so that a good part cross and whatever rests can be
 * taken later (the book stays bounded), 0.1 to 2 million tokens, 15 % IOC, a unique clientOrderId
 * on each (as trading bots send). Deterministic for a seed.
 */
export class OrderStream {
  private static readonly MID_TICKS = 500; // 0.500 USD per million tokens
  private static readonly SPREAD = 6;
  private x: number;
  private n = 0;
  private nextBuyer = 0;
  private nextProvider = 0;

  constructor(
    private readonly symbol: string,
    private readonly buyers: readonly Trader[],
    private readonly providers: readonly Trader[],
    private readonly tag: string,
    seed: number,
  ) {
    this.x = seed | 1;
  }

  /** xorshift32 in [0, 1). */
  private random(): number {
    this.x ^= this.x << 13;
    this.x ^= this.x >>> 17;
    this.x ^= this.x << 5;
    return (this.x >>> 0) / 4294967296;
  }

  next(): OrderRequest {
    const buy = this.random() < 0.5;
    return { key: this.trader(buy).key, body: JSON.stringify(this.order(buy)) };
  }

  /** `size` orders of one participant (a buyer or a provider, in turn), as one POST /v1/orders/batch body. */
  nextBatch(size: number): OrderRequest {
    const buy = this.random() < 0.5;
    const key = this.trader(buy).key;
    return { key, body: JSON.stringify({ commands: Array.from({ length: size }, () => ({ op: 'place', ...this.order(buy) })) }) };
  }

  /** The next order of a side, as the POST /v1/orders body. */
  order(buy: boolean): Record<string, unknown> {
    const ticks = OrderStream.MID_TICKS + Math.floor(this.random() * (2 * OrderStream.SPREAD + 1)) - OrderStream.SPREAD;
    return {
      instrument: this.symbol,
      side: buy ? 'buy' : 'sell',
      type: 'limit',
      price: (ticks / 1000).toFixed(3),
      quantity: (1 + Math.floor(this.random() * 20)) * 100_000,
      ...(this.random() < 0.15 ? { timeInForce: 'IOC' } : {}),
      clientOrderId: `${this.tag}-${this.n++}`,
    };
  }

  private trader(buy: boolean): Trader {
    return buy ? this.buyers[this.nextBuyer++ % this.buyers.length] : this.providers[this.nextProvider++ % this.providers.length];
  }
}

export interface OpenLoopResult {
  readonly sent: number;
  readonly seconds: number;
  /** Answers by HTTP status. */
  readonly statuses: Map<number, number>;
  /** Error codes of non-2xx answers (`QUEUE_FULL`, `INSUFFICIENT_FUNDS`, ...). */
  readonly codes: Map<string, number>;
  /** Requests that got no answer: a connection error, or still unanswered GRACE_SECONDS after the run. */
  readonly failed: number;
  /** Latency of 2xx answers in microseconds, from when each request was due. */
  readonly latency: hdr.Histogram;
}

/** How long a fixed-rate run waits for answers after its last request was due. */
const GRACE_SECONDS = 5;

/**
 * Sends requests at a fixed rate whatever the answers do (open loop): request i is due at
 * start + i / rate, and its latency counts from then, so time spent queued behind slow answers
 * (in the generator's socket pool or in the service) is measured instead of hidden
 * ("coordinated omission"). At most `maxSockets` requests are on the wire at once.
 */
export function openLoop(options: {
  readonly url: string;
  readonly rate: number;
  readonly seconds: number;
  readonly maxSockets: number;
  readonly path: string;
  readonly next: () => OrderRequest;
  readonly progress: (answered: number, elapsedSeconds: number) => void;
}): Promise<OpenLoopResult> {
  const target = new URL(options.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets });
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const statuses = new Map<number, number>();
  const codes = new Map<string, number>();
  const total = Math.round(options.rate * options.seconds);
  const intervalMs = 1000 / options.rate;
  let sent = 0;
  let answered = 0;
  let failed = 0;
  const done = () => answered + failed;
  let finished = false;
  /** Requests not yet answered: at the deadline they are aborted, or the agent would send its queue on. */
  const pending = new Set<http.ClientRequest>();
  const start = performance.now();

  return new Promise((resolve) => {
    const progress = setInterval(() => options.progress(answered, (performance.now() - start) / 1000), 1000);
    // Overloaded, answers would trail on for long: stop waiting GRACE_SECONDS after the last was due.
    const deadline = setTimeout(() => finish(), (options.seconds + GRACE_SECONDS) * 1000);
    const finish = () => {
      if (finished) return;
      finished = true;
      clearInterval(progress);
      clearTimeout(deadline);
      const seconds = (performance.now() - start) / 1000;
      resolve({ sent, seconds, statuses, codes, failed: failed + (sent - done()), latency });
      for (const request of pending) request.destroy();
      agent.destroy();
    };
    const settled = () => {
      if (done() === total) finish();
    };
    const send = (due: number) => {
      const { key, body } = options.next();
      const request = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          method: 'POST',
          path: options.path,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          timeout: 30_000,
        },
        (response) => {
          const status = response.statusCode ?? 0;
          const chunks: Buffer[] = [];
          if (status >= 300) response.on('data', (chunk: Buffer) => chunks.push(chunk));
          else response.resume();
          response.on('end', () => {
            pending.delete(request);
            if (finished) return;
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status >= 200 && status < 300) latency.recordValue(Math.max(1, Math.round((performance.now() - due) * 1000)));
            else {
              const code = errorCode(Buffer.concat(chunks).toString());
              codes.set(code, (codes.get(code) ?? 0) + 1);
            }
            answered++;
            settled();
          });
        },
      );
      request.on('timeout', () => request.destroy(new Error('timed out')));
      pending.add(request);
      request.on('error', () => {
        pending.delete(request);
        if (finished) return;
        failed++;
        settled();
      });
      request.end(body);
    };
    // Every millisecond or so, send whatever has fallen due since the last tick.
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / intervalMs) + 1);
      for (; sent < due; sent++) send(start + sent * intervalMs);
      if (sent < total && !finished) setTimeout(tick, 1);
    };
    tick();
  });
}

function errorCode(body: string): string {
  try {
    return String(JSON.parse(body).code ?? 'no code');
  } catch {
    return 'unreadable body';
  }
}

/**
 * CPU time of the service, of every PostgreSQL process, and of this process, from /proc (Linux),
 * so a phase can say where its time went. Values are in cores (1.0 = one core busy all along).
 */
export class CpuMeter {
  private static readonly TICKS_PER_SECOND = 100; // USER_HZ on Linux

  private last: { at: number; service: number; postgres: number; generator: number };

  constructor(private readonly servicePid: number) {
    this.last = this.read();
  }

  /** CPU used since the previous call (or construction), in cores over that wall time. */
  lap(): { service: number; postgres: number; generator: number } {
    const now = this.read();
    const seconds = (now.at - this.last.at) / 1000;
    const cores = (a: number, b: number) => (a - b) / seconds;
    const result = {
      service: cores(now.service, this.last.service),
      postgres: cores(now.postgres, this.last.postgres),
      generator: cores(now.generator, this.last.generator),
    };
    this.last = now;
    return result;
  }

  /** CPU seconds of every PostgreSQL process so far, the backends that have exited included. */
  static postgresSeconds(): number {
    // Backends come and go: the postmaster's reaped-children time keeps their CPU in the sum.
    let postgres = 0;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = CpuMeter.stat(Number(entry));
      if (stat?.comm !== 'postgres') continue;
      postgres += stat.seconds;
      if (CpuMeter.stat(stat.parent)?.comm !== 'postgres') postgres += stat.children;
    }
    return postgres;
  }

  /** A process's own CPU seconds so far (0 once it is gone). */
  static processSeconds(pid: number): number {
    return CpuMeter.stat(pid)?.seconds ?? 0;
  }

  private read(): { at: number; service: number; postgres: number; generator: number } {
    const own = process.cpuUsage();
    return {
      at: performance.now(),
      service: CpuMeter.processSeconds(this.servicePid),
      postgres: CpuMeter.postgresSeconds(),
      generator: (own.user + own.system) / 1e6,
    };
  }

  /** A process's own CPU (utime + stime) and its reaped children's (cutime + cstime), in seconds; undefined if it is gone. */
  private static stat(pid: number): { comm: string; parent: number; seconds: number; children: number } | undefined {
    try {
      const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the parenthesised command name, from the 3rd (state): ppid 4th, utime 14th, stime 15th, cutime 16th, cstime 17th.
      const close = text.lastIndexOf(')');
      const fields = text.slice(close + 2).split(' ').map(Number);
      return {
        comm: text.slice(text.indexOf('(') + 1, close),
        parent: fields[1],
        seconds: (fields[11] + fields[12]) / CpuMeter.TICKS_PER_SECOND,
        children: (fields[13] + fields[14]) / CpuMeter.TICKS_PER_SECOND,
      };
    } catch {
      return undefined;
    }
  }
}
