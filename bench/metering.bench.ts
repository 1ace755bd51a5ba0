/**
 * `npm run bench:metering`: metering (issue 6) end to end, against the built service started as a
 * child process in the `all` role (HTTP and workers in one process) on its own recreated database.
 *
 *   (a) ingest     signed usage batches of 1,000 honest records, posted over HTTP by N concurrent
 *                  posters for --duration seconds: records/s accepted (2xx only, then counted in
 *                  PostgreSQL), batch latency, CPU; then how long the workers take to verify them
 *                  all (every usage_batches row 'verified'): verified records/s
 *   (b) detection  three scenarios, each on its own node, delivery and stub model server
 *                  (test/support/stub-model-server.ts, real token counts, vLLM counters at /metrics,
 *                  scraped by the service every 500 ms): honest, inflating completion tokens by
 *                  1 %, by 10 %. Two kinds of traffic reach each stub:
 *                  - the buyer's: this process plays the node agent for it, sending OpenAI chat
 *                    requests (non-streamed) straight to the stub, turning the stub's `usage`
 *                    answers into usage records and posting them signed with the node's key;
 *                  - the exchange's own audits (job `metering.audit-nodes`, every
 *                    METERING_AUDIT_EVERY_REQUESTS requests the node reported, --audit-every):
 *                    the node is registered with the base URL of a real tokex node agent
 *                    (dist/src/node-agent/main.js, a child process per scenario, signing with the
 *                    same node key, FLUSH_INTERVAL_MS 200) in front of the stub, which forwards
 *                    them and reports what it served in signed batches, as a real agent reports
 *                    every request it serves: the stub's counters hold no tokens nobody reports.
 *                  The audits ask for METERING_AUDIT_MAX_TOKENS (320) tokens through chat or
 *                  plain completions, streamed or not; the service re-counts each answer and
 *                  opens an `audit_mismatch` dispute when the node claims more beyond tolerance.
 *                  The node's counters are checked cumulatively (`counter_mismatch`), and a node
 *                  with an open audit_mismatch or counter_mismatch is under review: its later
 *                  verified records are held (`node_under_review`), not paid. The audit job
 *                  looks for due nodes once a second and audits a node once at a time, so at
 *                  this bench's hundreds of requests a second an audit comes every few hundred
 *                  requests, not every 50: the table says how often.
 *
 * Figures per scenario: requests sent by this process when the first dispute about the node was
 * seen in PostgreSQL (any kind, and which kind came first), when the first audit_mismatch and the
 * first counter_mismatch were seen; disputes by kind; record verdicts (the agent's audit records
 * are `audit`); audits the service sent (node_audits) and how many failed; and the inflated
 * tokens paid: over this process's own records that were paid (verdict `verified`), their
 * reported completion tokens less the true ones (the stub's answer text re-counted with the
 * model class's tokenizer, llama3), against the inflated tokens of all its requests, and as a
 * share of the true tokens paid (the aim: at most the 0.5 % tolerance).
 *
 * Detection runs two ways. "Rounds": the bench sends a round of requests (32 in flight), waits
 * until the service has scraped a counter sample that is newer than the round's last finishedAt
 * and shows every token of it, posts the round in batches, and waits until they are verified
 * before the next round, so each batch is checked against counters that grew by its own requests
 * and the audits sent meanwhile (reported by the agent). "Continuous" (the traffic market-rules
 * §7's aims are stated for): requests never pause (32 in flight all the time) and each batch is
 * posted once a sample newer than its last finishedAt exists, as an agent would do under steady
 * traffic; the check then also sees tokens of requests not reported yet. Aims are printed for
 * both: honest, 0 disputes per 100,000 requests; 1 %, flagged (any dispute about the node)
 * within 1,000 requests; 10 %, flagged within 100 requests with the inflated tokens paid at most
 * 0.5 % of the true tokens paid. After a scenario's traffic the bench waits until no audit of
 * its node is due or unreported, then stops its agent and removes its spool.
 *
 * Options: --duration S (ingest seconds, default 15), --posters N (8), --batch N (records per
 * ingest batch, 1000), --providers N (4), --deliveries-per-node N (4), --honest N (honest
 * requests in rounds, 100000), --honest-round N (requests per honest round, 1000), --inflated N
 * (requests per inflating scenario, 2000), --detect-batch N (records per detection batch, 100),
 * --detect-batch-10 N (the same for the 10 % scenario, 100), --continuous N (requests per
 * continuous scenario, 10000; 0: none; a scenario of 0 requests is skipped), --concurrency N
 * (requests in flight to the stub, 32), --sample-rule covering|newer (rounds: wait for a sample
 * that also shows every token of the round, default, or only for one newer than its last request),
 * --audit-every N (METERING_AUDIT_EVERY_REQUESTS: an audit per N reported requests, default 50;
 * 0: no request-driven audits, to measure the counter check alone; METERING_AUDIT_INTERVAL_MS is
 * an hour either way), --verify-timeout S (600), --parts a,b, --profile DIR (the service writes a
 * V8 CPU profile there when it stops), --service-env K=V,K=V (more environment for the service,
 * for experiments), --roles all|split (all: one service process, HTTP and workers, the default;
 * split: an api process for HTTP and a worker process for the jobs, as deployed), --orders-rate N (orders/s posted to POST /v1/orders on the
 * same service during ingest, open loop, 1000; 0: none), --orders-alone S (seconds of the same
 * orders before ingest, with nothing else running, as the reference; 10), --orders-by others|metered
 * (who places them: 4 buyers and 4 providers with nodes of their own, the default, or the ingest
 * part's buyers and providers, whose accounts and deliveries the payouts of the metered usage
 * also lock), --database URL (default
 * postgres://postgres@127.0.0.1:5432/tokex_bench_metering; dropped and recreated), --redis URL
 * (default redis://127.0.0.1:6379/14, a database the tests do not flush).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { loadavg, tmpdir } from 'node:os';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { tokenizerFor } from '../src/markets/tokenizers.js';
import { type SignedUsageBatch, signUsageBatch, type UsageRecord } from '../src/protocol/usage-batch.js';
import { startStubModelServer } from '../test/support/stub-model-server.js';
import { recreateDatabase } from '../src/platform/database/database-admin.js';
import { CpuMeter, openLoop, type OpenLoopResult, OrderStream } from './orders-load.js';
import { api, forgetQueues, freePort, healthy, random, serviceEnv } from './bench-support.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    posters: { type: 'string', default: '8' },
    batch: { type: 'string', default: '1000' },
    providers: { type: 'string', default: '4' },
    'deliveries-per-node': { type: 'string', default: '4' },
    honest: { type: 'string', default: '100000' },
    'honest-round': { type: 'string', default: '1000' },
    inflated: { type: 'string', default: '2000' },
    'detect-batch': { type: 'string', default: '100' },
    'detect-batch-10': { type: 'string', default: '100' },
    continuous: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '32' },
    'sample-rule': { type: 'string', default: 'covering' },
    'audit-every': { type: 'string', default: '50' },
    'verify-timeout': { type: 'string', default: '600' },
    profile: { type: 'string' },
    'service-env': { type: 'string', default: '' },
    roles: { type: 'string', default: 'all' },
    'orders-rate': { type: 'string', default: '1000' },
    'orders-alone': { type: 'string', default: '10' },
    'orders-by': { type: 'string', default: 'others' },
    parts: { type: 'string', default: 'a,b' },
    database: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/tokex_bench_metering' },
    // A database of its own: the integration tests FLUSHDB databases 0 and 7 of the same Redis.
    redis: { type: 'string', default: 'redis://127.0.0.1:6379/14' },
  },
});
const DURATION = Number(args.duration);
const POSTERS = Number(args.posters);
const BATCH = Number(args.batch);
const CONCURRENCY = Number(args.concurrency);
const PARTS = new Set(args.parts!.split(','));
const ADMIN_KEY = `tkx_bench_admin_${randomUUID().replaceAll('-', '')}`;
const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
/**
 * The built node agent. Started here rather than by test/support/child-service.ts's
 * spawnNodeAgent, which finds it relative to its source file (../../dist/...): compiled into
 * dist/test/support/ that path would be dist/dist/.
 */
const NODE_AGENT = fileURLToPath(new URL('../src/node-agent/main.js', import.meta.url));
/** METERING_AUDIT_EVERY_REQUESTS: the service audits a node once it has reported this many requests since its last audit (0: never by requests). */
const AUDIT_EVERY = Number(args['audit-every']);
if (!Number.isInteger(AUDIT_EVERY) || AUDIT_EVERY < 0) throw new Error(`--audit-every must be a whole number >= 0, not ${args['audit-every']}`);
/** The tolerance (market-rules §7): 0.5 %. */
const TOLERANCE_PCT = 0.5;
const SCRAPE_INTERVAL_MS = 500;
/** Every delivery buys this many tokens at 0.500 USD per million: usage never runs out. */
const DELIVERY_TOKENS = 1_000_000_000;

const fmt = (n: number) => Math.round(n).toLocaleString('en');
const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));
/** Records in an ingest answer's list (request ids), or a count. */
const count = (x: unknown) => (Array.isArray(x) ? x.length : Number(x) || 0);

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}


// ---------------------------------------------------------------------------------------------
// The service

interface Service {
  readonly child: ChildProcess;
  /** With --roles split: the worker process (jobs, verification), beside `child` (HTTP). */
  readonly worker?: ChildProcess;
  readonly url: string;
  readonly queuePrefix: string;
  /** Its log lines (warnings and worse at LOG_LEVEL=warn), counted by message. */
  readonly warnings: Map<string, number>;
}

/**
 * The built service, `all` role (HTTP, workers, outbox sweeper), or with --roles split an `api`
 * process and then a `worker` process on the same database and queues; ready when /health answers.
 */
async function startService(): Promise<Service> {
  const port = await freePort();
  const queuePrefix = `bench-meter-${randomUUID().slice(0, 8)}`;
  const profile = args.profile ? ['--cpu-prof', '--cpu-prof-dir', args.profile] : [];
  const split = args.roles === 'split';
  const env = {
    ...serviceEnv(args.database!, args.redis!, queuePrefix),
    RATE_LIMIT_PER_SECOND: '0',
    LOG_HTTP_REQUESTS: 'false',
    BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
    PORT: String(port),
    HOST: '127.0.0.1',
    METERING_SCRAPE_INTERVAL_MS: String(SCRAPE_INTERVAL_MS),
    // Audits by time only once an hour: in the bench they come every AUDIT_EVERY reported requests.
    METERING_AUDIT_INTERVAL_MS: '3600000',
    METERING_AUDIT_EVERY_REQUESTS: String(AUDIT_EVERY),
    // The bench's nodes (stubs, agents, the empty metrics server) listen on 127.0.0.1.
    NODE_URLS_ALLOW_PRIVATE: 'true',
    SETTLEMENT_PAYOUT_INTERVAL_MS: '250',
    NODE_PROBE_INTERVAL_MS: '60000',
    // --service-env K=V,K=V: experiments (WORKER_CONCURRENCY=2, DB_POOL_SIZE=30, ...).
    ...Object.fromEntries(args['service-env']!.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
  };
  const child = spawn(process.execPath, [...profile, MAIN, split ? 'api' : 'all'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  // The first lines pass through; all are counted by message (pino JSON).
  const warnings = new Map<string, number>();
  let shown = 0;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (shown++ < 10) console.log(`  [service] ${line.length > 400 ? `${line.slice(0, 400)}...` : line}`);
    let key = line.slice(0, 40);
    try {
      const entry = JSON.parse(line) as { msg?: string; err?: string; job?: string; disputes?: string[] };
      // Ids and times masked, so lines that differ only by them count as one.
      const err = entry.err ? String(entry.err).replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>').replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '<time>') : '';
      key = `${entry.msg ?? '?'}${entry.job ? ` (${entry.job})` : ''}${err ? `: ${err.slice(0, 160)}` : ''}${entry.disputes ? ` [${[...new Set(entry.disputes)].join(', ')}]` : ''}`;
    } catch {
      // not JSON: counted as it is
    }
    warnings.set(key, (warnings.get(key) ?? 0) + 1);
  });
  const url = `http://127.0.0.1:${port}`;
  await healthy(child, url);
  // Started once the api process has migrated the database; it has no HTTP to ask, and its jobs wait in Redis meanwhile.
  const worker = split ? spawn(process.execPath, [MAIN, 'worker'], { env: { ...env, DB_MIGRATE: 'false' }, stdio: ['ignore', 'inherit', 'inherit'] }) : undefined;
  return { child, url, queuePrefix, warnings, ...(worker ? { worker } : {}) };
}

/** A process's CPU time in seconds (utime + stime, /proc), 0 once it is gone. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ').map(Number);
    return (fields[11] + fields[12]) / 100;
  } catch {
    return 0;
  }
}



// ---------------------------------------------------------------------------------------------
// The market, set up through the API

interface Market {
  readonly modelClassId: string;
  readonly symbol: string;
}

interface Participant {
  readonly id: string;
  readonly key: string;
}

interface Node {
  readonly id: string;
  readonly privateKey: KeyObject;
}

interface Delivery {
  readonly id: string;
  /** The buyer's delivery key: its id is the records' keyId, its token what the buyer sends. */
  readonly keyId: string;
  readonly token: string;
}

async function setUpMarket(service: Service): Promise<Market> {
  const modelClassId = `bench${randomUUID().slice(0, 8)}-70b`;
  await api(service.url, 'POST', '/v1/admin/model-classes', ADMIN_KEY, { id: modelClassId, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2000 });
  const { symbol } = await api(service.url, 'POST', '/v1/admin/instruments', ADMIN_KEY, { modelClassId, kind: 'spot' });
  return { modelClassId, symbol };
}

async function participant(service: Service, role: 'buyer' | 'provider', name: string): Promise<Participant> {
  const created = await api(service.url, 'POST', '/v1/participants', ADMIN_KEY, { name, roles: [role] });
  await api(service.url, 'POST', '/v1/admin/deposits', ADMIN_KEY, { participantId: created.participant.id, amount: '100000' });
  return { id: created.participant.id, key: created.apiKey.key };
}

/** A node of `provider` with a fresh Ed25519 key (the bench signs with it) and 10M tokens/s declared. */
async function registerNode(service: Service, market: Market, provider: Participant, baseUrl: string, metricsUrl: string, name: string): Promise<Node> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const created = await api(service.url, 'POST', '/v1/nodes', provider.key, {
    modelClassId: market.modelClassId,
    baseUrl,
    metricsUrl,
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    tokensPerSecond: 10_000_000,
    name,
  });
  return { id: created.id, privateKey };
}

/**
 * The buyer buys DELIVERY_TOKENS at 0.500 and the provider sells as many at 0.500: one fill, one
 * delivery (one-day window from now); then the buyer takes a delivery key for it. Run one pair at
 * a time so each sell meets its own buy.
 */
async function buyFrom(service: Service, market: Market, buyer: Participant, provider: Participant): Promise<Delivery> {
  const order = { instrument: market.symbol, type: 'limit', price: '0.500', quantity: DELIVERY_TOKENS };
  await api(service.url, 'POST', '/v1/orders', buyer.key, { ...order, side: 'buy' });
  await api(service.url, 'POST', '/v1/orders', provider.key, { ...order, side: 'sell' });
  const { items } = await api(service.url, 'GET', '/v1/deliveries?limit=1000', buyer.key);
  const delivery = (items as Array<{ id: string; providerId: string }>).find((d) => d.providerId === provider.id);
  if (!delivery) throw new Error(`no delivery between buyer ${buyer.id} and provider ${provider.id} after their orders crossed`);
  const key = await api(service.url, 'POST', `/v1/deliveries/${delivery.id}/keys`, buyer.key, {});
  return { id: delivery.id, keyId: key.id, token: key.token };
}

// ---------------------------------------------------------------------------------------------
// (a) Ingest

interface IngestNode extends Node {
  readonly deliveries: Delivery[];
  readonly provider: Participant;
}

/**
 * An HTTP server that answers 200 to everything, its /metrics with no vLLM counters: the part (a)
 * nodes' base and metrics URL, so they are probed and scraped without error and without samples.
 */
async function emptyMetricsServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end('# no vLLM counters here\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

interface IngestResult {
  readonly batches: number;
  readonly acceptedRecords: number;
  readonly duplicates: number;
  readonly rejected: number;
  readonly seconds: number;
  readonly statuses: Map<string, number>;
  readonly latencies: number[];
  readonly cpu: { service: number; postgres: number; generator: number };
  /** With --roles split: the worker process's CPU during ingest, in cores. */
  readonly workerCpu: number;
  /** Orders at --orders-rate on their own before ingest, and during ingest. */
  readonly orders?: { readonly alone: OrdersResult; readonly duringIngest: OrdersResult };
  readonly stored: number;
  readonly backlogAtEnd: number;
  readonly verify: {
    readonly done: boolean;
    readonly batches: number;
    readonly verifiedBatches: number;
    readonly records: number;
    /** From the first batch received to the last verified, database clock. */
    readonly seconds: number;
    /** From the end of ingest to the last verified. */
    readonly drainSeconds: number;
    readonly cpu: { service: number; postgres: number; generator: number };
    readonly verdicts: string;
    readonly disputes: number;
    readonly outbox: string;
    readonly delivered: number;
    readonly billable: number;
  };
}

interface OrdersResult {
  readonly acked: number;
  readonly sent: number;
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly other: string;
}

/**
 * Orders at a fixed rate on the service under test (open loop, bench/orders-load.ts), from the
 * ingest part's buyers and providers on its instrument: the ingest route must not slow order entry.
 */
function ordersAt(service: Service, orders: OrderStream, rate: number, seconds: number): Promise<OrdersResult> {
  return openLoop({ url: service.url, rate, seconds, maxSockets: 64, path: '/v1/orders', next: () => orders.next(), progress: () => {} }).then((r: OpenLoopResult) => {
    const acked = [...r.statuses].filter(([s]) => s >= 200 && s < 300).reduce((a, [, n]) => a + n, 0);
    const refused = [...r.statuses].filter(([s]) => s < 200 || s >= 300).map(([s, n]) => `${s}×${n}`);
    const codes = [...r.codes].map(([c, n]) => `${c}×${n}`).join(', ');
    const other = [...refused, ...(r.failed ? [`no answer×${r.failed}`] : [])].join(', ');
    return { acked, sent: r.sent, seconds: r.seconds, p50Ms: r.latency.getValueAtPercentile(50) / 1000, p99Ms: r.latency.getValueAtPercentile(99) / 1000, other: other ? `${other}${codes ? ` (${codes})` : ''}` : '0' };
  });
}

/** Who places the orders (--orders-by): traders of their own, or the metered buyers and providers. */
async function orderTraders(service: Service, market: Market, metrics: { url: string }, buyers: Participant[], nodes: IngestNode[]): Promise<[Participant[], Participant[]]> {
  if (args['orders-by'] === 'metered') return [buyers, nodes.map((n) => n.provider)];
  const traders: [Participant[], Participant[]] = [[], []];
  for (let i = 0; i < 4; i++) {
    traders[0].push(await participant(service, 'buyer', `bench order buyer ${i}`));
    const provider = await participant(service, 'provider', `bench order provider ${i}`);
    await registerNode(service, market, provider, `${metrics.url}/v1`, `${metrics.url}/metrics`, `bench order node ${i}`);
    traders[1].push(provider);
  }
  return traders;
}

async function ingest(service: Service, db: pg.Client, market: Market, meter: CpuMeter, metrics: { url: string }): Promise<IngestResult> {
  const nodesCount = Number(args.providers);
  const perNode = Number(args['deliveries-per-node']);
  console.log(`- (a) setting up ${nodesCount} providers with a node each, ${perNode} buyers, ${nodesCount * perNode} deliveries with a buyer key each`);
  const buyers: Participant[] = [];
  for (let b = 0; b < perNode; b++) buyers.push(await participant(service, 'buyer', `bench ingest buyer ${b}`));
  const nodes: IngestNode[] = [];
  for (let p = 0; p < nodesCount; p++) {
    const provider = await participant(service, 'provider', `bench ingest provider ${p}`);
    const node = await registerNode(service, market, provider, `${metrics.url}/v1`, `${metrics.url}/metrics`, `bench ingest node ${p}`);
    const deliveries: Delivery[] = [];
    for (const buyer of buyers) deliveries.push(await buyFrom(service, market, buyer, provider));
    nodes.push({ ...node, deliveries, provider });
  }

  const run = randomUUID().slice(0, 8);
  let sequence = 0;
  let batchNumber = 0;
  /**
   * One signed batch of BATCH honest records of one node (round-robin), its deliveries
   * interleaved as a node serving several buyers would report them: each record started 1 to 3 s
   * ago and took 1.5 s, first token after 300 ms, 100 to 1,999 prompt and 50 to 549 completion
   * tokens, a unique request id.
   */
  const nextBatch = (): SignedUsageBatch => {
    const node = nodes[batchNumber++ % nodes.length];
    const now = Date.now();
    const records: UsageRecord[] = new Array(BATCH);
    for (let i = 0; i < BATCH; i++) {
      const n = sequence++;
      const delivery = node.deliveries[i % node.deliveries.length];
      const started = now - 3_000 + (n % 2_000);
      records[i] = {
        requestId: `bench-${run}-${n}`,
        deliveryId: delivery.id,
        keyId: delivery.keyId,
        model: market.modelClassId,
        promptTokens: 100 + ((n * 7919) % 1_900),
        completionTokens: 50 + ((n * 104_729) % 500),
        startedAt: new Date(started).toISOString(),
        finishedAt: new Date(started + 1_500).toISOString(),
        ttftMs: 300,
        status: 'ok',
        stream: true,
      };
    }
    return signUsageBatch({ batchId: randomUUID(), nodeId: node.id, createdAt: new Date(now).toISOString(), records }, node.privateKey);
  };

  const ordersRate = Number(args['orders-rate']);
  const orderStream = ordersRate > 0 ? new OrderStream(market.symbol, ...(await orderTraders(service, market, metrics, buyers, nodes)), `o${run}`, 7) : undefined;
  let alone: OrdersResult | undefined;
  if (orderStream) {
    console.log(`- (a) orders alone: POST /v1/orders at ${fmt(ordersRate)}/s for ${args['orders-alone']} s`);
    alone = await ordersAt(service, orderStream, ordersRate, Number(args['orders-alone']));
    console.log(`  ${fmt(alone.acked)} acknowledged of ${fmt(alone.sent)}: p50 ${alone.p50Ms.toFixed(1)} ms, p99 ${alone.p99Ms.toFixed(1)} ms`);
  }
  console.log(`- (a) ingest: ${POSTERS} posters, batches of ${fmt(BATCH)} records, ${DURATION} s${ordersRate > 0 ? `, with orders at ${fmt(ordersRate)}/s` : ''}`);
  const statuses = new Map<string, number>();
  const latencies: number[] = [];
  let batches = 0;
  let acceptedRecords = 0;
  let duplicates = 0;
  let rejected = 0;
  meter.lap();
  const workerCpuBefore = cpuSeconds(service.worker?.pid);
  const started = performance.now();
  const deadline = started + DURATION * 1000;
  const progress = setInterval(() => {
    const elapsed = (performance.now() - started) / 1000;
    process.stdout.write(`  ${fmt(acceptedRecords)} records accepted in ${elapsed.toFixed(0)} s (${fmt(acceptedRecords / elapsed)}/s)\r`);
  }, 1000);
  const during = orderStream ? ordersAt(service, orderStream, ordersRate, DURATION) : undefined;
  await Promise.all(
    Array.from({ length: POSTERS }, async () => {
      while (performance.now() < deadline) {
        const signed = nextBatch();
        const sent = performance.now();
        try {
          const response = await fetch(`${service.url}/v1/metering/usage-batches`, { method: 'POST', headers: signed.headers, body: signed.body });
          const text = await response.text();
          const status = String(response.status);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (response.status >= 200 && response.status < 300) {
            latencies.push(performance.now() - sent);
            const answer = JSON.parse(text) as { accepted: unknown; duplicates: unknown; rejected?: unknown };
            batches++;
            acceptedRecords += count(answer.accepted);
            duplicates += count(answer.duplicates);
            rejected += count(answer.rejected ?? 0);
          } else {
            if ((statuses.get(status) ?? 0) <= 3) console.log(`\n  answer ${status}: ${text.slice(0, 300)}`);
            // As a node agent does: a busy exchange says when to come back (INGEST_BUSY, QUEUE_FULL).
            const retryAfter = Number(response.headers.get('retry-after'));
            if ((response.status === 503 || response.status === 429) && retryAfter > 0) await sleep(Math.max(0, Math.min(retryAfter * 1000, deadline - performance.now())));
          }
        } catch (error) {
          const reason = `error: ${(error as Error).message}`;
          statuses.set(reason, (statuses.get(reason) ?? 0) + 1);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  clearInterval(progress);
  const cpu = meter.lap();
  const workerCpu = (cpuSeconds(service.worker?.pid) - workerCpuBefore) / seconds;
  const duringIngest = await during;
  process.stdout.write(`  ${fmt(acceptedRecords)} records accepted in ${seconds.toFixed(1)} s (${fmt(acceptedRecords / seconds)}/s)${' '.repeat(20)}\n`);

  const [{ stored, backlog }] = (
    await db.query<{ stored: number; backlog: number }>(
      `SELECT (SELECT count(*) FROM usage_records)::int AS stored, (SELECT count(*) FROM usage_batches WHERE status <> 'verified')::int AS backlog`,
    )
  ).rows;
  const [{ now: ingestEndedAt }] = (await db.query<{ now: Date }>(`SELECT clock_timestamp() AS now`)).rows;

  // The workers go on verifying: wait until every batch is verified.
  console.log(`- (a) waiting for the workers to verify every batch (${fmt(backlog)} of ${fmt(batches)} batches left)`);
  const verifyDeadline = Date.now() + Number(args['verify-timeout']) * 1000;
  let done = false;
  for (;;) {
    const [{ left }] = (await db.query<{ left: number }>(`SELECT count(*)::int AS left FROM usage_batches WHERE status <> 'verified'`)).rows;
    process.stdout.write(`  ${fmt(left)} batches not verified yet${' '.repeat(20)}\r`);
    if (left === 0) {
      done = true;
      break;
    }
    if (Date.now() > verifyDeadline) break;
    await sleep(500);
  }
  const verifyCpu = meter.lap();
  process.stdout.write(`  ${done ? 'every batch verified' : `gave up after ${args['verify-timeout']} s`}${' '.repeat(30)}\n`);
  const [v] = (
    await db.query<{ batches: number; verified: number; records: number; first: Date; last: Date | null }>(
      `SELECT count(*)::int AS batches, count(*) FILTER (WHERE status = 'verified')::int AS verified,
              coalesce(sum(record_count) FILTER (WHERE status = 'verified'), 0)::int AS records,
              min(received_at) AS first, max(verified_at) AS last
         FROM usage_batches`,
    )
  ).rows;
  const verdicts = (await db.query<{ verdict: string | null; n: number }>(`SELECT verdict, count(*)::int AS n FROM usage_records GROUP BY 1 ORDER BY 2 DESC`)).rows;
  const [{ disputes }] = (await db.query<{ disputes: number }>(`SELECT count(*)::int AS disputes FROM disputes`)).rows;
  const outbox = (
    await db.query<{ status: string; n: number; retried: number; error: string | null }>(
      `SELECT status, count(*)::int AS n, count(*) FILTER (WHERE attempts > 1)::int AS retried, max(last_error) AS error
         FROM outbox WHERE job_name = 'metering.verify-batch' GROUP BY status`,
    )
  ).rows;
  const [money] = (
    await db.query<{ delivered: string; billable: string }>(
      `SELECT (SELECT coalesce(sum(delivered_tokens), 0) FROM deliveries)::text AS delivered,
              (SELECT coalesce(sum(billable_tokens), 0) FROM usage_records)::text AS billable`,
    )
  ).rows;
  const last = v.last ?? ingestEndedAt;
  return {
    batches,
    acceptedRecords,
    duplicates,
    rejected,
    seconds,
    statuses,
    latencies: latencies.sort((a, b) => a - b),
    cpu,
    workerCpu,
    ...(alone && duringIngest ? { orders: { alone, duringIngest } } : {}),
    stored,
    backlogAtEnd: backlog,
    verify: {
      done,
      batches: v.batches,
      verifiedBatches: v.verified,
      records: v.records,
      seconds: (last.getTime() - v.first.getTime()) / 1000,
      drainSeconds: Math.max(0, (last.getTime() - ingestEndedAt.getTime()) / 1000),
      cpu: verifyCpu,
      verdicts: verdicts.map((r) => `${r.verdict ?? 'unverified'} ${fmt(r.n)}`).join(', '),
      disputes,
      outbox: outbox.map((o) => `${o.status} ${fmt(o.n)}${o.retried ? ` (${fmt(o.retried)} retried${o.error ? `, last error: ${o.error.slice(0, 160)}` : ''})` : ''}`).join('; '),
      delivered: Number(money.delivered),
      billable: Number(money.billable),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// (b) Detection

interface Scenario {
  readonly name: string;
  readonly inflatePct: number;
  readonly requests: number;
  readonly batch: number;
  /** Rounds: requests of a round, then the scrape, the post and the verification, then the next round. */
  readonly mode: 'rounds' | 'continuous';
  readonly round: number;
}

interface ScenarioResult {
  readonly scenario: Scenario;
  readonly sent: number;
  readonly failed: number;
  readonly batches: number;
  readonly seconds: number;
  /** Disputes about the node by kind, node_under_review included. */
  readonly disputes: Map<string, number>;
  readonly disputedTokens: number;
  readonly flaggedBatches: number;
  /** Requests this process had sent when the first dispute (of any kind, of that kind) about the node was seen in PostgreSQL. */
  readonly firstAnySeenAt: number | null;
  readonly firstAuditSeenAt: number | null;
  readonly firstCounterSeenAt: number | null;
  /** The kind of the node's first dispute (by creation; node_under_review, a consequence of another, last). */
  readonly firstKind: string | null;
  /** The last request of the first batch that got a counter_mismatch dispute (its position in the stream). */
  readonly firstFlaggedBatchEnd: number | null;
  readonly verdicts: string;
  /** Completion tokens of this process's own requests: as reported (the stub's usage), and true (its text re-counted). */
  readonly reportedCompletion: number;
  readonly trueCompletion: number;
  /** The same over those of its records that were paid (verdict 'verified'). */
  readonly paid: { readonly reported: number; readonly true: number; readonly records: number };
  /** What the stub generated in all, the audits' tokens included (its true counters). */
  readonly stubGenerated: number;
  /** Audits the service sent through the node (node_audits), and those that failed. */
  readonly audits: { readonly total: number; readonly failed: number };
  /** The agent: requests it served (the audits) and its warnings. */
  readonly agent: { readonly served: number; readonly warnings: string };
  /** Samples the service took of the node's counters during the scenario. */
  readonly samples: number;
  /** The first dispute's kind and evidence, as stored. */
  readonly firstEvidence: string | null;
}

/** Prompts of 5 to 120 words from a small vocabulary. */
const PROMPT_WORDS = ['explain', 'the', 'market', 'for', 'inference', 'tokens', 'and', 'how', 'a', 'buyer', 'hedges', 'future', 'costs', 'with', 'spot', 'capacity', 'in', 'plain', 'words', 'please', 'summarise', 'list', 'three', 'reasons', 'why', 'providers', 'sell', 'idle', 'GPU', 'hours'];


/** The stub model server, run in a worker thread of this process: it costs about 2 ms of CPU a request, which would slow the agent's own event loop. */
interface RemoteStub {
  readonly url: string;
  readonly baseUrl: string;
  close(): Promise<void>;
}

async function startStubInWorker(model: string, inflateCompletionPct: number): Promise<RemoteStub> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { stub: { model, inflateCompletionPct } } });
  const [ready] = (await once(worker, 'message')) as [{ url: string; baseUrl: string }];
  return {
    ...ready,
    close: async () => {
      const exited = once(worker, 'exit');
      worker.postMessage('close');
      await exited;
    },
  };
}

/** The worker thread's side: the stub, until told to close. */
async function serveStub(): Promise<void> {
  const { model, inflateCompletionPct } = (workerData as { stub: { model: string; inflateCompletionPct: number } }).stub;
  const stub = await startStubModelServer({ tokenizer: 'llama3', model, behaviour: { inflateCompletionPct } });
  parentPort!.on('message', (message) => {
    if (message !== 'close') return;
    void stub.close().then(() => parentPort!.close());
  });
  parentPort!.postMessage({ url: stub.url, baseUrl: stub.baseUrl });
}

/** The stub's vLLM counters (its true totals: no scenario under-reports them), read from its /metrics as the service does. */
async function stubCounters(stub: RemoteStub): Promise<{ prompt: number; generation: number }> {
  const text = await (await fetch(`${stub.url}/metrics`)).text();
  const sum = (name: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return { prompt: sum('vllm:prompt_tokens_total'), generation: sum('vllm:generation_tokens_total') };
}

/** A tokex node agent in front of a scenario's stub, as a child process: the node's base URL for the exchange's audits. */
interface NodeAgentChild {
  /** Its OpenAI base URL: http://127.0.0.1:<port>/v1 */
  readonly baseUrl: string;
  readonly spoolDir: string;
  /** Requests it served (its "request served" lines). */
  served(): number;
  /** Its warnings and errors, counted by message. */
  readonly warnings: Map<string, number>;
  /** SIGTERM (it posts what is spooled first), wait for the exit, remove the spool. */
  stop(): Promise<void>;
}

/**
 * The built agent (dist/src/node-agent/main.js), configured as test/support/child-service.ts's
 * spawnNodeAgent and the metering-stack test configure it: it signs with the node's key (the one
 * this process signs its own batches with), forwards to the stub, and posts its batches every
 * 200 ms. Resolves once it listens.
 */
async function startNodeAgent(service: Service, market: Market, provider: Participant, node: Node, stub: RemoteStub): Promise<NodeAgentChild> {
  const spoolDir = await mkdtemp(join(tmpdir(), 'tokex-bench-agent-'));
  const child = spawn(process.execPath, [NODE_AGENT], {
    env: {
      PATH: process.env.PATH ?? '',
      TOKEX_URL: service.url,
      NODE_ID: node.id,
      PROVIDER_ID: provider.id,
      MODEL_CLASS: market.modelClassId,
      NODE_PRIVATE_KEY: node.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      UPSTREAM_URL: stub.baseUrl,
      SPOOL_DIR: spoolDir,
      FLUSH_INTERVAL_MS: '200',
      KEYS_REFRESH_MS: '1000',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const warnings = new Map<string, number>();
  let served = 0;
  let exited = false;
  const exit = once(child, 'exit').then(() => (exited = true));
  let timer: NodeJS.Timeout | undefined;
  const listening = new Promise<string>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error('the node agent did not listen within 30 s')), 30_000);
    // Its log is one JSON object a line: read all of it (a full pipe would block the agent).
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: { level?: string; msg?: string; url?: string; err?: string };
      try {
        entry = JSON.parse(line);
      } catch {
        entry = { level: 'warn', msg: line.slice(0, 160) };
      }
      if (entry.msg === 'tokex node agent listening' && entry.url) resolve(entry.url);
      else if (entry.msg === 'request served') served++;
      else if (entry.level === 'warn' || entry.level === 'error') {
        const key = `${entry.msg}${entry.err ? `: ${String(entry.err).slice(0, 160)}` : ''}`;
        warnings.set(key, (warnings.get(key) ?? 0) + 1);
      }
    });
    void exit.then(() => reject(new Error(`the node agent exited during start-up: ${[...warnings.keys()].join('; ') || 'no warning logged'}`)));
  });
  let url: string;
  try {
    url = await listening;
  } catch (error) {
    if (!exited) child.kill('SIGKILL');
    await rm(spoolDir, { recursive: true, force: true });
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    baseUrl: `${url}/v1`,
    spoolDir,
    served: () => served,
    warnings,
    stop: async () => {
      if (!exited) {
        child.kill('SIGTERM');
        await exit;
      }
      await rm(spoolDir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until the node's audits are over: every batch of it verified, every answered audit
 * reported by the agent and verified, and no audit due (fewer than AUDIT_EVERY records reported
 * since its last one, the audit job's own rule), so stopping its agent fails none. Gives up after
 * 60 s, saying why.
 */
async function settleAudits(db: pg.Client, nodeId: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [s] = (
      await db.query<{ unverified: number; unreported: number; since: number }>(
        `SELECT (SELECT count(*) FROM usage_batches WHERE node_id = $1 AND status <> 'verified')::int AS unverified,
                (SELECT count(*) FROM node_audits a WHERE a.node_id = $1 AND a.ok
                    AND NOT EXISTS (SELECT 1 FROM usage_records r WHERE r.node_id = a.node_id AND r.request_id = a.request_id AND r.verdict IS NOT NULL))::int AS unreported,
                (SELECT count(*) FROM (SELECT 1 FROM usage_records r
                   WHERE r.node_id = $1
                     AND r.started_at > (SELECT coalesce(max(a.created_at), n.created_at) FROM inference_nodes n LEFT JOIN node_audits a ON a.node_id = n.id WHERE n.id = $1 GROUP BY n.created_at)
                   LIMIT $2) since)::int AS since`,
        [nodeId, Math.max(AUDIT_EVERY, 1)],
      )
    ).rows;
    if (s.unverified === 0 && s.unreported === 0 && (AUDIT_EVERY === 0 || s.since < AUDIT_EVERY)) return;
    if (Date.now() > deadline) {
      console.log(`  audits of node ${nodeId} not settled after 60 s: ${s.unverified} batches unverified, ${s.unreported} answered audits not reported and verified, ${s.since} records since the last audit`);
      return;
    }
    await sleep(100);
  }
}

/** The model class's tokenizer (the bench's model classes name llama3): the true count of an answer's text. */
const TOKENIZER = (await tokenizerFor('llama3'))!;

/**
 * The buyer's traffic, and this process as the node agent that reports it: requests straight to
 * the stub, their records posted signed with the node's key. Keeps each request's true completion
 * tokens (the answer's text re-counted), to tell what inflation was paid.
 */
class BenchAgent {
  private readonly next: () => number;
  sent = 0;
  failed = 0;
  reportedCompletion = 0;
  trueCompletion = 0;
  /** True completion tokens by request id. */
  readonly truth = new Map<string, number>();

  constructor(
    private readonly stub: RemoteStub,
    private readonly market: Market,
    private readonly node: Node,
    private readonly delivery: Delivery,
    seed: number,
  ) {
    this.next = random(seed);
  }

  /** One buyer request to the stub, non-streamed: its usage record, or undefined if it failed. */
  private async request(): Promise<UsageRecord | undefined> {
    const words = 5 + Math.floor(this.next() * 116);
    const prompt = Array.from({ length: words }, () => PROMPT_WORDS[Math.floor(this.next() * PROMPT_WORDS.length)]).join(' ');
    const maxTokens = 20 + Math.floor(this.next() * 181);
    this.sent++;
    const startedAt = Date.now();
    try {
      const response = await fetch(`${this.stub.baseUrl}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.delivery.token}` },
        body: JSON.stringify({ model: this.market.modelClassId, messages: [{ role: 'user', content: prompt }], max_tokens: maxTokens, stream: false }),
      });
      const body = (await response.json()) as {
        id: string;
        model: string;
        choices: Array<{ message: { content: string } }>;
        usage: { prompt_tokens: number; completion_tokens: number };
      };
      const finishedAt = Date.now();
      if (!response.ok) throw new Error(`the stub answered ${response.status}`);
      const truth = TOKENIZER.count(body.choices[0].message.content);
      this.reportedCompletion += body.usage.completion_tokens;
      this.trueCompletion += truth;
      this.truth.set(body.id, truth);
      return {
        requestId: body.id,
        deliveryId: this.delivery.id,
        keyId: this.delivery.keyId,
        model: body.model,
        promptTokens: body.usage.prompt_tokens,
        completionTokens: body.usage.completion_tokens,
        startedAt: new Date(startedAt).toISOString(),
        finishedAt: new Date(finishedAt).toISOString(),
        ttftMs: finishedAt - startedAt, // non-streamed: the whole answer
        status: 'ok',
        stream: false,
      };
    } catch {
      this.failed++;
      return undefined;
    }
  }

  /** Sends `count` requests, CONCURRENCY in flight, handing each record over as it completes. */
  async send(count: number, onRecord: (record: UsageRecord) => void): Promise<void> {
    let started = 0;
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, count) }, async () => {
        while (started < count) {
          started++;
          const record = await this.request();
          if (record) onRecord(record);
        }
      }),
    );
  }

  /** Posts one signed batch; returns its id. */
  async post(service: Service, records: readonly UsageRecord[]): Promise<string> {
    const batchId = randomUUID();
    const signed = signUsageBatch({ batchId, nodeId: this.node.id, createdAt: new Date().toISOString(), records }, this.node.privateKey);
    const response = await fetch(`${service.url}/v1/metering/usage-batches`, { method: 'POST', headers: signed.headers, body: signed.body });
    const text = await response.text();
    if (response.status !== 202) throw new Error(`posting a usage batch: ${response.status} ${text}`);
    const answer = JSON.parse(text) as { accepted: unknown };
    if (count(answer.accepted) !== records.length) throw new Error(`a usage batch was not accepted whole: ${text.slice(0, 500)}`);
    return batchId;
  }
}

interface Sample {
  readonly at: Date;
  readonly prompt: number;
  readonly generation: number;
}

async function latestSample(db: pg.Client, nodeId: string): Promise<Sample | undefined> {
  const [row] = (
    await db.query<{ at: Date; prompt: string; generation: string }>(
      `SELECT scraped_at AS at, prompt_tokens_total::text AS prompt, generation_tokens_total::text AS generation
         FROM node_counter_samples WHERE node_id = $1 ORDER BY scraped_at DESC LIMIT 1`,
      [nodeId],
    )
  ).rows;
  return row ? { at: row.at, prompt: Number(row.prompt), generation: Number(row.generation) } : undefined;
}

/** Waits for a counter sample of the node that `good` accepts; the scraper runs every 500 ms. */
async function waitForSample(db: pg.Client, nodeId: string, good: (s: Sample) => boolean, what: string): Promise<Sample> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const sample = await latestSample(db, nodeId);
    if (sample && good(sample)) return sample;
    if (Date.now() > deadline) throw new Error(`no counter sample ${what} within 60 s (latest: ${sample ? JSON.stringify(sample) : 'none'})`);
    await sleep(20);
  }
}

async function waitVerified(db: pg.Client, batchIds: readonly string[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const [{ n }] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM usage_batches WHERE batch_id = ANY($1::text[]) AND status = 'verified'`, [batchIds])).rows;
    if (n === batchIds.length) return;
    if (Date.now() > deadline) throw new Error(`${batchIds.length - n} of ${batchIds.length} batches not verified within 120 s`);
    await sleep(20);
  }
}

/** Disputes about the node, by kind. */
async function disputeKinds(db: pg.Client, nodeId: string): Promise<Map<string, number>> {
  const rows = (await db.query<{ kind: string; n: number }>(`SELECT kind, count(*)::int AS n FROM disputes WHERE node_id = $1 GROUP BY kind`, [nodeId])).rows;
  return new Map(rows.map((r) => [r.kind, r.n]));
}

async function runScenario(service: Service, db: pg.Client, market: Market, scenario: Scenario, index: number, stubs: RemoteStub[], agents: NodeAgentChild[]): Promise<ScenarioResult> {
  // A fresh stub (its counters from zero), node, agent, buyer and delivery.
  const stub = await startStubInWorker(market.modelClassId, scenario.inflatePct);
  stubs.push(stub);
  const provider = await participant(service, 'provider', `bench detection provider ${index}`);
  const buyer = await participant(service, 'buyer', `bench detection buyer ${index}`);
  // Registered first (its id goes to the agent), then pointed at the agent; the service scrapes the stub's counters directly.
  const node = await registerNode(service, market, provider, stub.baseUrl, `${stub.url}/metrics`, `bench detection node ${index} (${scenario.name})`);
  const nodeAgent = await startNodeAgent(service, market, provider, node, stub);
  agents.push(nodeAgent);
  await api(service.url, 'PATCH', `/v1/nodes/${node.id}`, provider.key, { baseUrl: nodeAgent.baseUrl });
  const delivery = await buyFrom(service, market, buyer, provider);
  // The scraper only scrapes nodes that owe a delivery: the first sample comes after the fill.
  const ready = Date.now();
  await waitForSample(db, node.id, (s) => s.at.getTime() > ready, 'after the delivery opened');

  const agent = new BenchAgent(stub, market, node, delivery, 0x5eed0 + index * 2 + 1);
  const batchEnds = new Map<string, number>();
  let posted = 0;
  let batches = 0;
  let firstAnySeenAt: number | null = null;
  let firstAuditSeenAt: number | null = null;
  let firstCounterSeenAt: number | null = null;
  const look = async () => {
    const kinds = await disputeKinds(db, node.id);
    if (firstAnySeenAt === null && kinds.size > 0) firstAnySeenAt = agent.sent;
    if (firstAuditSeenAt === null && kinds.has('audit_mismatch')) firstAuditSeenAt = agent.sent;
    if (firstCounterSeenAt === null && kinds.has('counter_mismatch')) firstCounterSeenAt = agent.sent;
  };
  const postBatch = async (records: UsageRecord[]) => {
    const id = await agent.post(service, records);
    posted += records.length;
    batches++;
    batchEnds.set(id, posted);
    return id;
  };
  const started = performance.now();
  const label = `${scenario.name} (${scenario.mode})`;
  const progress = setInterval(() => process.stdout.write(`  ${label}: ${fmt(agent.sent)} requests sent, ${fmt(posted)} reported\r`), 1000);
  try {
    if (scenario.mode === 'rounds') {
      while (agent.sent < scenario.requests) {
        const round: UsageRecord[] = [];
        await agent.send(Math.min(scenario.round, scenario.requests - agent.sent), (r) => round.push(r));
        if (round.length === 0) continue;
        // A sample newer than the round's last request that shows every token of it.
        const last = Math.max(...round.map((r) => Date.parse(r.finishedAt)));
        if (args['sample-rule'] === 'newer') {
          await waitForSample(db, node.id, (s) => s.at.getTime() > last, 'newer than the round');
        } else {
          const truth = await stubCounters(stub);
          await waitForSample(db, node.id, (s) => s.at.getTime() > last && s.prompt >= truth.prompt && s.generation >= truth.generation, 'covering the round');
        }
        const ids: string[] = [];
        for (let i = 0; i < round.length; i += scenario.batch) ids.push(await postBatch(round.slice(i, i + scenario.batch)));
        await waitVerified(db, ids);
        await look();
      }
    } else {
      // Requests never pause; batches are posted in order, each once a sample newer than its last request exists.
      const pending: UsageRecord[] = [];
      const ids: string[] = [];
      let sending = true;
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          await look();
          await sleep(100);
        }
      })();
      const traffic = agent.send(scenario.requests, (r) => pending.push(r)).finally(() => (sending = false));
      while (sending || pending.length > 0) {
        if (pending.length < scenario.batch && sending) {
          await sleep(5);
          continue;
        }
        const records = pending.splice(0, scenario.batch);
        const last = Math.max(...records.map((r) => Date.parse(r.finishedAt)));
        await waitForSample(db, node.id, (s) => s.at.getTime() > last, 'newer than the batch');
        ids.push(await postBatch(records));
      }
      await traffic;
      await waitVerified(db, ids);
      watching = false;
      await watcher;
      await look();
    }
  } finally {
    clearInterval(progress);
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`  ${label}: ${fmt(agent.sent)} requests in ${seconds.toFixed(1)} s (${fmt(agent.sent / seconds)}/s), ${fmt(batches)} batches${' '.repeat(20)}\n`);
  // The audits its last requests made due, reported by the agent and verified; then the agent goes.
  await settleAudits(db, node.id);
  await look();
  await nodeAgent.stop();

  // Disputes through the admin API (what an admin sees: the scenario's one delivery, which the audits use too), and the rest from PostgreSQL.
  const listed: Array<{ kind: string; nodeId: string; tokens: number; evidence: { batchId?: string } }> = [];
  for (let cursor: string | null = null; ; ) {
    const page: { items: typeof listed; nextCursor: string | null } = await api(service.url, 'GET', `/v1/admin/disputes?deliveryId=${delivery.id}&limit=1000${cursor ? `&cursor=${cursor}` : ''}`, ADMIN_KEY);
    listed.push(...page.items.filter((d) => d.nodeId === node.id));
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  const disputes = new Map<string, number>();
  for (const d of listed) disputes.set(d.kind, (disputes.get(d.kind) ?? 0) + 1);
  const [first] = (
    await db.query<{ batch: string }>(`SELECT evidence->>'batchId' AS batch FROM disputes WHERE node_id = $1 AND kind = 'counter_mismatch' ORDER BY created_at, id LIMIT 1`, [node.id])
  ).rows;
  const [firstAny] = (await db.query<{ text: string }>(`SELECT kind || ' ' || evidence::text AS text FROM disputes WHERE node_id = $1 ORDER BY created_at, id LIMIT 1`, [node.id])).rows;
  // The kind that flagged the node first. created_at is its transaction's start, so a node_under_review hold can
  // carry an earlier time than the audit_mismatch or counter_mismatch that caused it: holds rank last.
  const [firstFlag] = (await db.query<{ kind: string }>(`SELECT kind FROM disputes WHERE node_id = $1 ORDER BY kind = 'node_under_review', created_at, id LIMIT 1`, [node.id])).rows;
  const verdicts = (await db.query<{ verdict: string; n: number }>(`SELECT coalesce(verdict, 'unverified') AS verdict, count(*)::int AS n FROM usage_records WHERE node_id = $1 GROUP BY 1 ORDER BY 2 DESC`, [node.id])).rows;
  const [{ samples }] = (await db.query<{ samples: number }>(`SELECT count(*)::int AS samples FROM node_counter_samples WHERE node_id = $1`, [node.id])).rows;
  const [audits] = (await db.query<{ total: number; failed: number }>(`SELECT count(*)::int AS total, count(*) FILTER (WHERE NOT ok)::int AS failed FROM node_audits WHERE node_id = $1`, [node.id])).rows;
  // The inflation paid: this process's records that were paid, against each one's true count (the agent's audit records are never paid).
  const paid = { reported: 0, true: 0, records: 0 };
  const paidRows = (await db.query<{ request_id: string; completion: number }>(`SELECT request_id, completion_tokens AS completion FROM usage_records WHERE node_id = $1 AND verdict = 'verified'`, [node.id])).rows;
  for (const r of paidRows) {
    const truth = agent.truth.get(r.request_id);
    if (truth === undefined) continue;
    paid.reported += r.completion;
    paid.true += truth;
    paid.records++;
  }
  return {
    scenario,
    sent: agent.sent,
    failed: agent.failed,
    batches,
    seconds,
    disputes,
    disputedTokens: listed.reduce((x, d) => x + Number(d.tokens), 0),
    flaggedBatches: new Set(listed.filter((d) => d.kind === 'counter_mismatch').map((d) => d.evidence.batchId)).size,
    firstAnySeenAt,
    firstAuditSeenAt,
    firstCounterSeenAt,
    firstKind: firstFlag?.kind ?? null,
    firstFlaggedBatchEnd: first ? (batchEnds.get(first.batch) ?? null) : null,
    verdicts: verdicts.map((r) => `${r.verdict} ${fmt(r.n)}`).join(', '),
    reportedCompletion: agent.reportedCompletion,
    trueCompletion: agent.trueCompletion,
    paid,
    stubGenerated: (await stubCounters(stub)).generation,
    audits,
    agent: { served: nodeAgent.served(), warnings: [...nodeAgent.warnings].map(([k, n]) => `${k} ×${n}`).join('; ') },
    samples,
    firstEvidence: firstAny?.text ?? null,
  };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  console.log(`tokex metering benchmark (parts ${[...PARTS].join(', ')}); load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`- preparing ${args.database}`);
  await recreateDatabase(args.database!);
  console.log('- starting the service (node dist/src/main.js all: HTTP and workers)');
  const service = await startService();
  const db = new pg.Client({ connectionString: args.database, application_name: 'tokex-bench-metering' });
  await db.connect();
  const stubs: RemoteStub[] = [];
  const agents: NodeAgentChild[] = [];
  const metrics = await emptyMetricsServer();
  let exitCode = 0;
  try {
    const market = await setUpMarket(service);
    const meter = new CpuMeter(service.child.pid!);

    let a: IngestResult | undefined;
    if (PARTS.has('a')) a = await ingest(service, db, market, meter, metrics);

    const results: ScenarioResult[] = [];
    if (PARTS.has('b')) {
      const inflated = Number(args.inflated);
      const batch = Number(args['detect-batch']);
      const batch10 = Number(args['detect-batch-10']);
      const scenarios: Scenario[] = [
        { name: 'honest', inflatePct: 0, requests: Number(args.honest), batch, mode: 'rounds', round: Number(args['honest-round']) },
        { name: 'inflating 1 %', inflatePct: 1, requests: inflated, batch, mode: 'rounds', round: batch },
        { name: 'inflating 10 %', inflatePct: 10, requests: inflated, batch: batch10, mode: 'rounds', round: batch10 },
      ];
      const continuous = Number(args.continuous);
      if (continuous > 0) {
        scenarios.push(
          { name: 'honest', inflatePct: 0, requests: continuous, batch, mode: 'continuous', round: 0 },
          { name: 'inflating 1 %', inflatePct: 1, requests: continuous, batch, mode: 'continuous', round: 0 },
          { name: 'inflating 10 %', inflatePct: 10, requests: continuous, batch: batch10, mode: 'continuous', round: 0 },
        );
      }
      console.log(`- (b) detection: ${scenarios.length} scenarios, ${CONCURRENCY} requests in flight to a stub model server, counters scraped every ${SCRAPE_INTERVAL_MS} ms, ${AUDIT_EVERY > 0 ? `an audit every ${AUDIT_EVERY} reported requests` : 'no request-driven audits'} through a node agent`);
      for (const [i, scenario] of scenarios.entries()) if (scenario.requests > 0) results.push(await runScenario(service, db, market, scenario, i, stubs, agents));
    }

    // ------------------------------------------------------------------ report
    if (a) {
      const rate = a.acceptedRecords / a.seconds;
      const cpu = (c: { service: number; postgres: number; generator: number }) => `${c.service.toFixed(2)} / ${c.postgres.toFixed(2)} / ${c.generator.toFixed(2)}`;
      const statuses = [...a.statuses].map(([s, n]) => `${s}×${fmt(n)}`).join(', ');
      console.log(`\n(a) ingest: ${POSTERS} posters, signed batches of ${fmt(BATCH)} records, ${a.seconds.toFixed(1)} s; CPU in cores of 2 (service / PostgreSQL / bench)`);
      const row = (k: string, v: string) => console.log(`  ${k.padEnd(34)} ${v}`);
      row('records accepted (2xx)', `${fmt(a.acceptedRecords)} in ${fmt(a.batches)} batches: ${fmt(rate)} records/s (${fmt(a.batches / a.seconds)} batches/s); duplicates ${fmt(a.duplicates)}, rejected ${fmt(a.rejected)}`);
      row('answers', statuses);
      row('batch latency (2xx)', `p50 ${percentile(a.latencies, 50).toFixed(0)} ms, p99 ${percentile(a.latencies, 99).toFixed(0)} ms, max ${(a.latencies.at(-1) ?? NaN).toFixed(0)} ms`);
      row('CPU during ingest', `${cpu(a.cpu)}${args.roles === 'split' ? ` (service: the api process; the worker process ${a.workerCpu.toFixed(2)} besides)` : ''}`);
      if (a.orders) {
        const o = (r: OrdersResult) => `${fmt(r.acked)} of ${fmt(r.sent)} acknowledged in ${r.seconds.toFixed(1)} s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms; refused/failed ${r.other}`;
        row(`orders at ${fmt(Number(args['orders-rate']))}/s alone`, o(a.orders.alone));
        row(`orders at ${fmt(Number(args['orders-rate']))}/s during ingest`, o(a.orders.duringIngest));
      }
      row('durable', `${fmt(a.stored)} rows in usage_records (${a.stored === a.acceptedRecords ? 'exactly the accepted count' : `ACCEPTED ${fmt(a.acceptedRecords)}: MISMATCH`})`);
      row('verification', `${fmt(a.backlogAtEnd)} batches still to verify when ingest stopped; ${a.verify.done ? 'all' : 'NOT all'} verified ${a.verify.drainSeconds.toFixed(1)} s after`);
      row(
        'verified records/s',
        a.verify.done
          ? `${fmt(a.verify.records / a.verify.seconds)} (${fmt(a.verify.records)} records, first received to last verified ${a.verify.seconds.toFixed(1)} s); ` +
              `${fmt((a.backlogAtEnd * BATCH) / a.verify.drainSeconds)}/s after ingest stopped (${fmt(a.backlogAtEnd * BATCH)} records left then)`
          : `not all verified: ${fmt(a.verify.records)} of ${fmt(a.stored)} records after ${args['verify-timeout']} s`,
      );
      row('CPU while draining', cpu(a.verify.cpu));
      row('verdicts', a.verify.verdicts);
      row('disputes (honest records)', String(a.verify.disputes));
      row('verify jobs (outbox)', a.verify.outbox || 'none');
      row('tokens', `${fmt(a.verify.billable)} billable in usage_records, ${fmt(a.verify.delivered)} delivered on the deliveries`);
      const verifiedRate = a.verify.done ? a.verify.records / a.verify.seconds : 0;
      const ordersOk = a.orders ? a.orders.duringIngest.p99Ms < 50 && a.orders.duringIngest.acked === a.orders.duringIngest.sent : undefined;
      console.log(
        `  aim (issue 15): at least 50,000 verified records/s (beyond: 100,000), while orders flow at 1,000/s with p99 under 50 ms: ` +
          `${verifiedRate >= 50_000 && ordersOk ? 'met' : 'not met'} (${fmt(verifiedRate)} verified/s; orders ${ordersOk === undefined ? 'not run' : ordersOk ? 'p99 under 50 ms' : 'p99 50 ms or more, or some not acknowledged'})`,
      );
      if (a.stored !== a.acceptedRecords || !a.verify.done || a.verify.disputes > 0) exitCode = 1;
    }
    if (results.length > 0) {
      const audits = AUDIT_EVERY > 0 ? `the service audits each node once it reported ${AUDIT_EVERY} requests since its last audit (its audit job looks every second)` : 'no request-driven audits (--audit-every 0)';
      console.log(
        `\n(b) detection: a stub model server per node; ${CONCURRENCY} requests in flight straight to it, non-streamed, max_tokens 20 to 200, reported by the bench; ${audits}; ` +
          `the node's base URL is a tokex node agent in front of the stub, which serves and reports the audits`,
      );
      const row = (c: string[]) =>
        console.log(
          `  ${c[0].padEnd(15)} ${c[1].padEnd(11)} ${c[2].padStart(9)} ${c[3].padStart(6)} ${c[4].padStart(7)} ${c[5].padStart(9)} ${c[6].padStart(8)} ${c[7].padEnd(17)} ${c[8].padStart(9)} ${c[9].padStart(11)} ${c[10].padStart(13)} ${c[11].padStart(15)}`,
        );
      row(['scenario', 'mode', 'requests', 'batch', 'req/s', 'disputes', 'flagged', 'first kind', 'audit at', 'counter at', 'batch flagged', 'audits (failed)']);
      const pct = (part: number, whole: number, digits = 2) => (whole > 0 ? `${((100 * part) / whole).toFixed(digits)} %` : '-');
      const total = (r: ScenarioResult) => [...r.disputes.values()].reduce((x, y) => x + y, 0);
      const at = (n: number | null) => (n === null ? '-' : fmt(n));
      for (const r of results) {
        const kinds = [...r.disputes].map(([k, n]) => `${k} ${fmt(n)}`).join(', ') || 'none';
        row([
          r.scenario.name,
          r.scenario.mode === 'rounds' ? `rounds ${r.scenario.round}` : 'continuous',
          fmt(r.sent),
          String(r.scenario.batch),
          fmt(r.sent / r.seconds),
          fmt(total(r)),
          at(r.firstAnySeenAt),
          r.firstKind ?? '-',
          at(r.firstAuditSeenAt),
          at(r.firstCounterSeenAt),
          at(r.firstFlaggedBatchEnd),
          `${fmt(r.audits.total)} (${fmt(r.audits.failed)})`,
        ]);
        console.log(
          `      disputes by kind: ${kinds}; verdicts: ${r.verdicts}; ${fmt(r.flaggedBatches)} of ${fmt(r.batches)} bench batches counter-flagged; ` +
            `completion reported ${fmt(r.reportedCompletion)} / true ${fmt(r.trueCompletion)} (the stub generated ${fmt(r.stubGenerated)}, audits included); ` +
            `${fmt(r.samples)} samples; the agent served ${fmt(r.agent.served)}${r.agent.warnings ? ` (its warnings: ${r.agent.warnings})` : ''}` +
            `${r.audits.total > 0 ? `; one audit per ${fmt(r.sent / r.audits.total)} bench requests` : ''}${r.failed ? `; ${r.failed} requests failed` : ''}`,
        );
        const inflated = r.reportedCompletion - r.trueCompletion;
        const paidInflated = r.paid.reported - r.paid.true;
        console.log(
          `      inflated tokens paid: ${fmt(paidInflated)} of ${fmt(inflated)} (${pct(paidInflated, inflated)}), i.e. ${pct(paidInflated, r.paid.true, 3)} of the true tokens paid ` +
            `(${fmt(r.paid.true)} true tokens in ${fmt(r.paid.records)} of ${fmt(r.sent - r.failed)} bench records paid)`,
        );
      }
      console.log(
        '  (flagged, audit at, counter at: requests the bench had sent when the first dispute about the node of any kind, the first audit_mismatch, the first counter_mismatch was seen in PostgreSQL; ' +
          'first kind: the kind that flagged the node first, node_under_review holds ranking after the dispute that caused them; batch flagged: the last request of the first bench batch with a counter_mismatch; audits: sent by the service through the agent, node_audits)',
      );
      for (const r of results.filter((x) => x.scenario.inflatePct === 0 && x.firstEvidence)) {
        console.log(`  FALSE DISPUTE on the honest node (${r.scenario.mode}), first one: ${r.firstEvidence}`);
      }
      const aim = (ok: boolean | undefined) => (ok === undefined ? 'not run' : ok ? 'met' : 'not met');
      const flaggedWithin = (r: ScenarioResult, within: number) => r.firstAnySeenAt !== null && r.firstAnySeenAt <= within;
      const flag = (r: ScenarioResult) =>
        r.firstAnySeenAt === null
          ? 'never flagged'
          : `first flag at ${fmt(r.firstAnySeenAt)}, ${r.firstKind} first; audit_mismatch at ${at(r.firstAuditSeenAt)}, counter_mismatch at ${at(r.firstCounterSeenAt)}`;
      /** Inflated tokens paid, in percent of the true tokens paid. */
      const paidShare = (r: ScenarioResult) => (r.paid.true > 0 ? (100 * (r.paid.reported - r.paid.true)) / r.paid.true : 0);
      const paidText = (r: ScenarioResult) => `inflated tokens paid ${paidShare(r).toFixed(3)} % of the true tokens paid`;
      for (const mode of ['rounds', 'continuous'] as const) {
        const find = (name: string) => results.find((r) => r.scenario.mode === mode && r.scenario.name === name);
        const honest = find('honest');
        const one = find('inflating 1 %');
        const ten = find('inflating 10 %');
        if (!honest && !one && !ten) continue;
        console.log(`  aims (${mode}${mode === 'continuous' ? ': the traffic market-rules §7 states them for' : ''}):`);
        if (mode === 'rounds') {
          console.log(
            `    honest: 0 disputes over 100,000 requests: ${aim(honest && (honest.sent >= 100_000 ? total(honest) === 0 : undefined))}${honest && honest.sent < 100_000 ? ` (only ${fmt(honest.sent)} sent: ${total(honest)} disputes)` : ''}`,
          );
        } else {
          console.log(
            `    honest: 0 disputes per 100,000 requests: ${honest ? `${aim(total(honest) === 0)} over ${fmt(honest.sent)} requests (${total(honest)} disputes)${honest.sent < 100_000 ? '; fewer than 100,000 sent' : ''}` : 'not run'}`,
          );
        }
        console.log(`    1 % flagged (any dispute about the node) within 1,000 requests: ${aim(one && flaggedWithin(one, 1_000))}${one ? ` (${flag(one)})` : ''}`);
        console.log(
          `    10 % flagged within 100 requests, inflated tokens paid at most ${TOLERANCE_PCT} % of the true tokens paid: ${aim(ten && flaggedWithin(ten, 100) && paidShare(ten) <= TOLERANCE_PCT)}` +
            `${ten ? ` (${flag(ten)}; ${paidText(ten)}; batches of ${ten.scenario.batch})` : ''}`,
        );
      }
      if (results.some((r) => r.scenario.inflatePct === 0 && r.disputes.size > 0)) exitCode = 1;
    }
    console.log(`\nload average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (other work on the machine shares its two cores)`);
    const warnings = [...service.warnings].sort((x, y) => y[1] - x[1]).slice(0, 15);
    console.log(`\nservice log lines (LOG_LEVEL=warn): ${warnings.length ? warnings.map(([k, n]) => `${k} ×${fmt(n)}`).join('; ') : 'none'}`);
  } finally {
    // Before the service, so they can post what they hold; each removes its spool.
    for (const agent of agents) await agent.stop().catch((error: unknown) => console.log(`  stopping a node agent: ${(error as Error).message}`));
    await db.end();
    if (service.worker && service.worker.exitCode === null) {
      const exited = once(service.worker, 'exit');
      service.worker.kill('SIGTERM');
      await exited;
    }
    if (service.child.exitCode === null) {
      const exited = once(service.child, 'exit');
      service.child.kill('SIGTERM');
      await exited;
    }
    // After the service: it scrapes the stubs until it stops.
    for (const stub of stubs) await stub.close();
    await metrics.close();
    await forgetQueues(args.redis!, service.queuePrefix);
  }
  process.exitCode = exitCode;
}

if (isMainThread) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} else {
  serveStub().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
