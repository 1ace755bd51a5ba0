/**
 * `npm run bench:orders`: durable order entry over HTTP, end to end. It starts the built service
 * (api role) as a child process on its own database, sets up one spot instrument with buyers and
 * providers (nodes, funds) through the API, and drives it from this process:
 *
 *   bare           GET /ping of a bare Nest + Fastify app (bare-nest.cli.ts) in its own process:
 *                  the ceiling every other phase is reported against, as a ratio
 *   GET /v1/me     with autocannon, round-robin over every participant's key: the same
 *                  service's cost of HTTP, auth and a small read, with no order behind it
 *   GET /v1/me/rate-limit  the same, for a route that reads nothing from PostgreSQL: the cost of
 *                  the authenticated request path itself (issue 15's aim: half the bare route)
 *   orders (max)   POST /v1/orders with autocannon, as fast as answers come back (closed loop)
 *   batch (max)    POST /v1/orders/batch, 100 orders of one participant a request, closed loop;
 *                  counted in committed orders, latency per batch
 *   stream (max)   `place` messages over WS /v1/stream, one connection per trader, a window of
 *                  messages in flight on each (stream-load.ts); latency per order
 *   orders at R/s  POST /v1/orders at a fixed rate (open loop, see orders-load.ts), p50/p99 latency
 *
 * Only 2xx answers count as acknowledged (each is committed in PostgreSQL); others are reported by
 * status and error code (503 QUEUE_FULL is a valid answer under overload). Autocannon's own fixed
 * rate (`overallRate`) is not used for the latency runs: it lets each connection send its quota
 * for the second back to back and then waits for the next second, so it measures bursts, and its
 * latency correction assumes a 1 ms interval.
 *
 * Options: --duration S (seconds per measured phase, default 15), --connections N (default 100;
 * the socket cap of the fixed-rate runs too), --rates R,R (default 2000,5000), --buyers N (200),
 * --providers N (50), --warmup S (3), --batch-size N (100), --stream-connections N (20),
 * --stream-window N (50 messages in flight a connection), --database URL (default
 * postgres://postgres@127.0.0.1:5432/tokex_bench_orders; dropped and recreated), --redis URL,
 * --profile DIR (the service writes a V8 CPU profile there when it stops), --phases LIST (default
 * bare,rate-limit,me,orders,batch,stream,rates: the phases to run, in this order).
 */
import autocannon from 'autocannon';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { CpuMeter, openLoop, OrderStream, type OrderRequest, type Trader } from './orders-load.js';
import { recreateDatabase } from '../src/platform/database/database-admin.js';
import { streamLoad } from './stream-load.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { api, type ApiProcess as Service, freePort, healthy, startApi, stopProcess } from './bench-support.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    connections: { type: 'string', default: '100' },
    rates: { type: 'string', default: '2000,5000' },
    buyers: { type: 'string', default: '200' },
    providers: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '3' },
    'batch-size': { type: 'string', default: '100' },
    'stream-connections': { type: 'string', default: '20' },
    'stream-window': { type: 'string', default: '50' },
    database: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/tokex_bench_orders' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    profile: { type: 'string' },
    phases: { type: 'string', default: 'bare,rate-limit,me,orders,batch,stream,rates' },
  },
});
const PHASES = new Set(args.phases!.split(','));
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const RATES = args.rates!.split(',').map(Number);
const ADMIN_KEY = `tkx_bench_admin_${randomUUID().replaceAll('-', '')}`;


/** The bare Nest + Fastify app of bench/bare-nest.cli.ts, as a process of its own. */
async function startBare(): Promise<Service> {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(new URL('./bare-nest.cli.js', import.meta.url)), '--port', String(port)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await healthy(child, url, '/ping');
  return { child, url };
}

/** Runs `work` over `items`, `width` at a time. */
async function inParallel<T, R>(items: readonly T[], width: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i], i);
    }),
  );
  return results;
}

/** A model class, its spot instrument, funded buyers, and funded providers with an ample node each. */
async function setUpMarket(service: Service): Promise<{ symbol: string; buyers: Trader[]; providers: Trader[] }> {
  const modelClassId = `bench${randomUUID().slice(0, 8)}-70b`;
  await api(service.url, 'POST', '/v1/admin/model-classes', ADMIN_KEY, { id: modelClassId, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2000 });
  const { symbol } = await api(service.url, 'POST', '/v1/admin/instruments', ADMIN_KEY, { modelClassId, kind: 'spot' });
  const participant = async (role: 'buyer' | 'provider', n: number, cash: string): Promise<Trader> => {
    const created = await api(service.url, 'POST', '/v1/participants', ADMIN_KEY, { name: `bench ${role} ${n}`, roles: [role] });
    await api(service.url, 'POST', '/v1/admin/deposits', ADMIN_KEY, { participantId: created.participant.id, amount: cash });
    return { id: created.participant.id, key: created.apiKey.key };
  };
  const buyers = await inParallel(Array.from({ length: Number(args.buyers) }), 16, (_, n) => participant('buyer', n, '1000000'));
  const providers = await inParallel(Array.from({ length: Number(args.providers) }), 16, async (_, n) => {
    const provider = await participant('provider', n, '1000000');
    // 10M tokens/s over the one-day delivery window: capacity never refuses a sell here.
    const publicKey = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    await api(service.url, 'POST', '/v1/nodes', provider.key, {
      modelClassId,
      baseUrl: 'http://127.0.0.1:9/v1',
      metricsUrl: 'http://127.0.0.1:9/metrics',
      publicKey,
      tokensPerSecond: 10_000_000,
    });
    return provider;
  });
  return { symbol, buyers, providers };
}

interface PhaseResult {
  readonly name: string;
  readonly offered: string;
  readonly acked: number;
  readonly seconds: number;
  readonly other: string;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpu: { service: number; postgres: number; generator: number };
}

const counts = (m: Map<string | number, number>) =>
  [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}×${v}`).join(', ') || '0';

/**
 * A closed-loop autocannon run: CONNECTIONS connections, each sending again as soon as it is
 * answered. `ordersIn` counts what an answer acknowledged (a batch: its committed orders); by
 * default each 2xx answer is one.
 */
async function closedLoop(
  service: Service,
  meter: CpuMeter,
  name: string,
  seconds: number,
  method: 'GET' | 'POST',
  path: string,
  next: () => OrderRequest,
  ordersIn?: (body: string) => { acked: number; codes: string[] },
): Promise<PhaseResult> {
  const codes = new Map<string, number>();
  let ackedInBodies = 0;
  meter.lap();
  const options: autocannon.Options = {
    url: service.url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method,
        path,
        setupRequest: (request) => {
          const { key, body } = next();
          return { ...request, headers: { authorization: `Bearer ${key}`, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) }, ...(method === 'POST' ? { body } : {}) };
        },
        // Non-2xx bodies name the reason (QUEUE_FULL, INSUFFICIENT_FUNDS, ...).
        onResponse: (status, body) => {
          if (status < 300 && ordersIn) {
            const { acked, codes: refused } = ordersIn(body);
            ackedInBodies += acked;
            for (const code of refused) codes.set(code, (codes.get(code) ?? 0) + 1);
          }
          if (status < 300) return;
          const code = (() => {
            try {
              return String(JSON.parse(body).code);
            } catch {
              return `HTTP ${status}`;
            }
          })();
          codes.set(code, (codes.get(code) ?? 0) + 1);
        },
      },
    ],
  };
  let answered = 0;
  const started = performance.now();
  const progress = setInterval(() => {
    const elapsed = (performance.now() - started) / 1000;
    process.stdout.write(`  ${name}: ${answered} answers in ${elapsed.toFixed(0)} s (${Math.round(answered / elapsed)}/s)\r`);
  }, 1000);
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (error, done) => (error ? reject(error) : resolve(done)));
    instance.on('response', () => answered++);
  });
  clearInterval(progress);
  const cpu = meter.lap();
  const statuses = Object.entries(result.statusCodeStats ?? {}).filter(([s]) => !s.startsWith('2')).map(([s, c]) => `${s}×${c.count}`);
  const other = [...statuses, ...(result.errors ? [`errors×${result.errors}`] : [])].join(', ');
  const acked = ordersIn ? ackedInBodies : result['2xx'];
  process.stdout.write(`  ${name}: ${acked} acknowledged in ${result.duration.toFixed(1)} s (${Math.round(acked / result.duration)}/s)${' '.repeat(20)}\n`);
  return {
    name,
    offered: 'max',
    acked,
    seconds: result.duration,
    other: other || codes.size ? `${other}${codes.size ? ` (${counts(codes)})` : ''}` : '0',
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    cpu,
  };
}

async function fixedRate(service: Service, meter: CpuMeter, rate: number, next: () => OrderRequest): Promise<PhaseResult> {
  const name = `POST /v1/orders at ${rate.toLocaleString('en')}/s`;
  meter.lap();
  const result = await openLoop({
    url: service.url,
    rate,
    seconds: DURATION,
    maxSockets: CONNECTIONS,
    path: '/v1/orders',
    next,
    progress: (answered, elapsed) => process.stdout.write(`  ${name}: ${answered} answers in ${elapsed.toFixed(0)} s\r`),
  });
  const cpu = meter.lap();
  const acked = [...result.statuses].filter(([s]) => s >= 200 && s < 300).reduce((a, [, n]) => a + n, 0);
  const statuses = [...result.statuses].filter(([s]) => s < 200 || s >= 300).map(([s, n]) => `${s}×${n}`);
  const other = [...statuses, ...(result.failed ? [`no answer×${result.failed}`] : [])].join(', ');
  process.stdout.write(`  ${name}: ${acked} acknowledged of ${result.sent} sent in ${result.seconds.toFixed(1)} s${' '.repeat(20)}\n`);
  return {
    name,
    offered: `${rate.toLocaleString('en')}/s`,
    acked,
    seconds: result.seconds,
    other: other ? `${other}${result.codes.size ? ` (${counts(result.codes)})` : ''}` : '0',
    p50Ms: result.latency.getValueAtPercentile(50) / 1000,
    p99Ms: result.latency.getValueAtPercentile(99) / 1000,
    cpu,
  };
}

/** Orders over the stream, as fast as answers come back: one connection per trader, a window in flight on each. */
async function streamPhase(service: Service, meter: CpuMeter, traders: ReadonlyArray<Trader & { buy: boolean }>, orders: OrderStream): Promise<PhaseResult> {
  const name = 'WS place (max)';
  meter.lap();
  const result = await streamLoad({
    url: service.url,
    traders,
    window: Number(args['stream-window']),
    seconds: DURATION,
    order: (buy) => orders.order(buy),
    progress: (placed, elapsed) => process.stdout.write(`  ${name}: ${placed} placed in ${elapsed.toFixed(0)} s (${Math.round(placed / elapsed)}/s)\r`),
  });
  const cpu = meter.lap();
  process.stdout.write(`  ${name}: ${result.placed} acknowledged of ${result.sent} sent in ${result.seconds.toFixed(1)} s${' '.repeat(20)}\n`);
  return {
    name,
    offered: 'max',
    acked: result.placed,
    seconds: result.seconds,
    other: result.codes.size ? counts(result.codes) : '0',
    p50Ms: result.latency.getValueAtPercentile(50) / 1000,
    p99Ms: result.latency.getValueAtPercentile(99) / 1000,
    cpu,
  };
}

/** What a batch's answer acknowledged: its committed orders, and the codes of its refusals. */
function batchOrders(body: string): { acked: number; codes: string[] } {
  try {
    const results = (JSON.parse(body) as { results: Array<{ statusCode: number; code?: string }> }).results;
    return { acked: results.filter((r) => r.statusCode < 300).length, codes: results.filter((r) => r.statusCode >= 300).map((r) => r.code ?? String(r.statusCode)) };
  } catch {
    return { acked: 0, codes: ['unreadable body'] };
  }
}

/** The order writer's own averages since start-up, from the service's Prometheus metrics. */
async function writerFigures(service: Service): Promise<{ batches: number; commandsPerBatch: number; prepareMs: number; commitMs: number; plannedAhead: number; retried: number }> {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  const sum = (pattern: RegExp) =>
    text
      .split('\n')
      .filter((line) => pattern.test(line))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  const batches = sum(/^tokex_order_batch_commands_count/);
  const per = (x: number) => (batches === 0 ? 0 : x / batches);
  return {
    batches,
    commandsPerBatch: per(sum(/^tokex_order_batch_commands_sum/)),
    prepareMs: per(sum(/^tokex_order_batch_seconds_sum\{.*phase="prepare"/)) * 1000,
    commitMs: per(sum(/^tokex_order_batch_seconds_sum\{.*phase="commit"/)) * 1000,
    plannedAhead: sum(/^tokex_order_batches_planned_total\{.*planned="ahead"/),
    retried: sum(/^tokex_order_batch_retries_total/),
  };
}

async function main(): Promise<void> {
  console.log(`tokex order-entry benchmark: ${DURATION} s per phase, ${CONNECTIONS} connections, fixed rates ${RATES.join(' and ')}/s`);
  console.log(`- preparing ${args.database}`);
  await recreateDatabase(args.database!);
  // Rate limits on, as in production, with a budget no phase reaches: their cost is measured.
  console.log('- starting the service (node dist/src/main.js api, RATE_LIMIT_PER_SECOND=100000)');
  const service = await startApi({
    database: args.database!,
    redis: args.redis!,
    adminKey: ADMIN_KEY,
    name: 'bench-orders',
    profileDir: args.profile,
    env: { RATE_LIMIT_PER_SECOND: '100000' },
  });
  try {
    console.log(`- setting up the market: ${args.buyers} buyers, ${args.providers} providers with nodes, all funded`);
    const { symbol, buyers, providers } = await setUpMarket(service);
    const everyone = [...buyers, ...providers];
    const run = randomUUID().slice(0, 6);
    let nextKey = 0;
    const me = (): OrderRequest => ({ key: everyone[nextKey++ % everyone.length].key, body: '' });
    const meter = new CpuMeter(service.child.pid!);

    console.log(`- warming up (${args.warmup} s of orders, not counted)`);
    const warm = new OrderStream(symbol, buyers, providers, `${run}w`, 1);
    await closedLoop(service, meter, 'warm-up', Number(args.warmup), 'POST', '/v1/orders', () => warm.next());

    console.log('- running');
    const results: PhaseResult[] = [];
    if (PHASES.has('bare')) {
      const bare = await startBare();
      try {
        results.push(await closedLoop(bare, new CpuMeter(bare.child.pid!), 'bare Nest GET /ping', DURATION, 'GET', '/ping', () => ({ key: 'none', body: '' })));
      } finally {
        await stopProcess(bare.child);
      }
    }
    if (PHASES.has('rate-limit')) results.push(await closedLoop(service, meter, 'GET /v1/me/rate-limit', DURATION, 'GET', '/v1/me/rate-limit', me));
    if (PHASES.has('me')) results.push(await closedLoop(service, meter, 'GET /v1/me', DURATION, 'GET', '/v1/me', me));
    if (PHASES.has('orders')) {
      const max = new OrderStream(symbol, buyers, providers, `${run}m`, 2);
      results.push(await closedLoop(service, meter, 'POST /v1/orders (max)', DURATION, 'POST', '/v1/orders', () => max.next()));
    }
    if (PHASES.has('batch')) {
      const batchSize = Number(args['batch-size']);
      const batches = new OrderStream(symbol, buyers, providers, `${run}b`, 11);
      results.push(await closedLoop(service, meter, `POST /v1/orders/batch (max)`, DURATION, 'POST', '/v1/orders/batch', () => batches.nextBatch(batchSize), batchOrders));
    }
    if (PHASES.has('stream')) {
      const streamTraders = Array.from({ length: Number(args['stream-connections']) }, (_, i) =>
        i % 2 === 0 ? { ...buyers[(i / 2) % buyers.length], buy: true } : { ...providers[((i - 1) / 2) % providers.length], buy: false },
      );
      results.push(await streamPhase(service, meter, streamTraders, new OrderStream(symbol, buyers, providers, `${run}s`, 12)));
    }
    for (const [i, rate] of (PHASES.has('rates') ? RATES : []).entries()) {
      const stream = new OrderStream(symbol, buyers, providers, `${run}r${i}`, 3 + i);
      results.push(await fixedRate(service, meter, rate, () => stream.next()));
    }

    // What was acknowledged is durable, and the ledger is sound after it all.
    const db = new pg.Client({ connectionString: args.database });
    await db.connect();
    const [{ orders, fills }] = (await db.query(`SELECT (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM fills)::int AS fills`)).rows;
    await db.end();
    const audit = await api(service.url, 'POST', '/v1/admin/ledger/audit', ADMIN_KEY, {});
    const writer = await writerFigures(service);

    const acknowledgedOrders = results.filter((r) => !r.name.includes('GET')).reduce((a, r) => a + r.acked, 0);
    console.log(`\nresults (${DURATION} s per phase, ${CONNECTIONS} connections; batch and stream: acked orders, latency per batch or order; CPU in cores of 2)`);
    const bare = results.find((r) => r.name.startsWith('bare'));
    const bareRate = bare ? bare.acked / bare.seconds : Number.NaN;
    const row = (cells: string[]) =>
      `  ${cells[0].padEnd(30)} ${cells[1].padStart(8)} ${cells[2].padStart(10)} ${cells[3].padStart(8)} ${cells[4].padStart(9)} ${cells[5].padStart(9)}  ${cells[6].padEnd(20)} ${cells[7]}`;
    console.log(row(['phase', 'offered', 'acked/s', 'vs bare', 'p50', 'p99', 'CPU svc / pg / gen', 'non-2xx']));
    for (const r of results) {
      const cpu = `${r.cpu.service.toFixed(2)} / ${r.cpu.postgres.toFixed(2)} / ${r.cpu.generator.toFixed(2)}`;
      const perSecond = r.acked / r.seconds;
      console.log(row([r.name, r.offered, Math.round(perSecond).toLocaleString('en'), bare ? (perSecond / bareRate).toFixed(2) : '—', `${r.p50Ms.toFixed(1)} ms`, `${r.p99Ms.toFixed(1)} ms`, cpu, r.other]));
    }
    const rate = (name: string) => {
      const r = results.find((x) => x.name.startsWith(name));
      return r ? r.acked / r.seconds : Number.NaN;
    };
    const orderMax = rate('POST /v1/orders (max)');
    const cheap = rate('GET /v1/me/rate-limit') / bareRate;
    console.log(`  durable: ${orders} orders and ${fills} fills in PostgreSQL (≥ ${acknowledgedOrders} acknowledged after warm-up); ledger audit ${audit.sound ? 'sound' : 'NOT SOUND'}`);
    console.log(
      `  writer: ${writer.batches.toLocaleString('en')} group commits, ${writer.commandsPerBatch.toFixed(1)} commands each on average; ` +
        `${writer.prepareMs.toFixed(1)} ms preparing and ${writer.commitMs.toFixed(1)} ms committing per batch; ` +
        `${writer.plannedAhead.toLocaleString('en')} planned while the previous one committed, ${writer.retried.toLocaleString('en')} run again alone`,
    );
    const at2k = results.find((r) => r.offered === '2,000/s');
    const met = (ok: boolean) => (ok ? 'met' : 'not met');
    console.log(
      `  aims (issue 15): single orders 5,000/s (${met(orderMax >= 5_000)}); p99 under 50 ms at 2,000/s ` +
        `(${at2k ? met(at2k.p99Ms < 50 && at2k.acked / at2k.seconds >= 1_960) : 'not run'}); ` +
        `batch 10,000/s (${met(rate('POST /v1/orders/batch') >= 10_000)}); WebSocket 10,000/s (${met(rate('WS place') >= 10_000)}); ` +
        `an authenticated route that reads nothing from PostgreSQL at half the bare route (${Number.isNaN(cheap) ? 'not run' : `${cheap.toFixed(2)}: ${met(cheap >= 0.5)}`})`,
    );
    if (!audit.sound) process.exitCode = 1;
  } finally {
    await stopProcess(service.child);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
