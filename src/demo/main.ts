/**
 * `npm run demo` (scripts/demo.sh runs this after building): the whole market in one command, on a
 * database of its own. See docs/demo.md.
 *
 *   node dist/src/demo/main.js [--duration 60] [--exit] [--port 3100] [--database tokex_demo] [--clock-rate 4320]
 *
 * It starts the API and the worker, two stub model servers each behind a node agent (one honest,
 * one inflating its completion counts by 10 %), two provider bots and two buyer bots; prints the
 * market's progress every second or two; after `--duration` seconds stops the bots and prints the
 * summary, ending with one machine-readable line `DEMO_SUMMARY {json}`. With `--exit` it then stops
 * everything it started and exits 0 only if the summary's checks held; otherwise it leaves the
 * service up (on real time) until Ctrl-C.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { recreateDatabase } from '../platform/database/database-admin.js';
import { BuyerBot } from './buyer-bot.js';
import { checksOf, disputesAgainst, type MarketReport, progressLine, readReport, summaryText } from './market-report.js';
import { type DemoProcess, eventually, freePort, isRunning, startProcess } from './processes.js';
import { ProviderBot } from './provider-bot.js';
import { startStubModelServer, type StubModelServer } from './stub-model-server.js';
import { TokexClient } from './tokex-client.js';

const DAY_MS = 86_400_000;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'dist/src/main.js');
const AGENT = join(ROOT, 'dist/src/node-agent/main.js');
const MODEL = 'llama-3.1-8b-instruct';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    exit: { type: 'boolean', default: false },
    port: { type: 'string', default: process.env.DEMO_PORT ?? '3100' },
    database: { type: 'string', default: process.env.DEMO_DATABASE ?? 'tokex_demo' },
    'clock-rate': { type: 'string', default: '4320' },
  },
});
const durationS = Number(args.duration);
const clockRate = Number(args['clock-rate']);
const database = args.database;
if (!Number.isInteger(durationS) || durationS < 10) fail('--duration must be a whole number of seconds, at least 10');
if (!Number.isInteger(clockRate) || clockRate < 1 || clockRate > 100_000) fail('--clock-rate must be a whole number from 1 to 100000');
if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database) || database === 'tokex') fail('--database must be a lower-case PostgreSQL name other than "tokex" (the demo drops and recreates it)');

const logDir = join(ROOT, 'dist', 'demo', database);
const events = (() => {
  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  return createWriteStream(join(logDir, 'demo.jsonl'));
})();
/** Structured events (every bot action, every step) go to demo.jsonl; steps also to the terminal. */
const log = (event: string, fields: Record<string, unknown> = {}) => events.write(`${JSON.stringify({ time: new Date().toISOString(), event, ...fields })}\n`);
const say = (message: string, fields: Record<string, unknown> = {}) => {
  log('demo.step', { message, ...fields });
  console.log(`\x1b[1mtokex demo\x1b[0m ${message}`);
};

function fail(message: string): never {
  console.error(`tokex demo: ${message}`);
  process.exit(2);
}

/** A seeded PRNG (mulberry32), so runs vary little and never use Math.random for anything priced. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * The ISO week to trade: the first whose last trade (00:00 UTC the day before it starts) is more than
 * a day after the demo clock's reading at the end of the run, so the contract sees daily marks and
 * no expiry while the demo runs.
 */
function demoWeek(now: number, demoEnd: number): string {
  const horizon = demoEnd + DAY_MS;
  let start = Math.floor(now / DAY_MS) * DAY_MS + DAY_MS;
  while (new Date(start).getUTCDay() !== 1 || start - DAY_MS <= horizon) start += DAY_MS;
  const thursday = new Date(start + 3 * DAY_MS);
  const year = thursday.getUTCFullYear();
  const week = 1 + Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / DAY_MS / 7);
  return `${year}-W${String(week).padStart(2, '0')}`;
}

const processes: DemoProcess[] = [];
const stubs: StubModelServer[] = [];
const bots: Array<{ stop(): Promise<void> }> = [];
let stopping: Promise<void> | undefined;

/** Stops the bots, then every process the demo started, and the stub servers; idempotent. */
function stopAll(): Promise<void> {
  stopping ??= (async () => {
    await Promise.all(bots.map((b) => b.stop().catch(() => undefined)));
    // Agents first (they post what they spooled), then the service.
    const agents = processes.filter((p) => p.name.startsWith('agent'));
    await Promise.all(agents.map((p) => p.stop()));
    await Promise.all(processes.filter((p) => !agents.includes(p)).map((p) => p.stop()));
    await Promise.all(stubs.map((s) => s.close().catch(() => undefined)));
  })();
  return stopping;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    console.log(`\ntokex demo: ${signal}, stopping every process it started`);
    void stopAll().then(() => {
      events.end();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  });
}

/** The demo's own database on the server `baseUrl` names, dropped and created empty; its URL. */
async function freshDatabase(baseUrl: string): Promise<string> {
  const url = new URL(baseUrl);
  url.pathname = `/${database}`;
  await recreateDatabase(url.toString());
  return url.toString();
}

/** Removes what an earlier run left in Redis under this demo's queue prefix. */
async function clearQueues(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<number> {
  const baseDatabaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tokex';
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const queuePrefix = database.replaceAll('_', '-').slice(0, 32);
  const port = await freePort(Number(args.port));
  const tokexUrl = `http://127.0.0.1:${port}`;
  const adminKey = `tkx_demo_${randomBytes(24).toString('base64url')}`;
  const runMs = durationS * 1_000;

  say(`database ${database} (dropped and recreated), queue prefix ${queuePrefix}, logs in ${logDir}`);
  const databaseUrl = await freshDatabase(baseDatabaseUrl);
  await clearQueues(redisUrl, queuePrefix);

  const anchor = new Date().toISOString();
  /** What the service's fast clock reads at real time `ms`. */
  const demoClockAt = (ms: number) => Date.parse(anchor) + (ms - Date.parse(anchor)) * clockRate;
  const serviceEnv = (rate: number): Record<string, string> => ({
    NODE_ENV: 'development',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: queuePrefix,
    HOST: '127.0.0.1',
    PORT: String(port),
    DB_MIGRATE: 'true',
    DB_POOL_SIZE: '10',
    BOOTSTRAP_ADMIN_KEY: adminKey,
    OPS_SESSION_SECRET: randomBytes(32).toString('base64url'),
    LOG_HTTP_REQUESTS: 'false',
    RATE_LIMIT_PER_SECOND: '0',
    NODE_URLS_ALLOW_PRIVATE: 'true', // the demo's nodes listen on 127.0.0.1
    OUTBOX_SWEEP_INTERVAL_MS: '100',
    SETTLEMENT_PAYOUT_INTERVAL_MS: '250',
    METERING_SCRAPE_INTERVAL_MS: '1000',
    METERING_AUDIT_INTERVAL_MS: '4000',
    NODE_PROBE_INTERVAL_MS: '5000',
    LEDGER_CHECK_INTERVAL_MS: '15000',
    FORWARD_MARK_INTERVAL_MS: '2000',
    SCORECARD_FOLD_INTERVAL_MS: '1000',
    ...(rate > 1 ? { CLOCK_RATE: String(rate), CLOCK_ANCHOR: anchor } : {}),
  });
  const startService = async (rate: number) => {
    say(`starting the API on ${tokexUrl} (migrating ${database})`);
    const api = startProcess('api', [MAIN, 'api'], serviceEnv(rate), join(logDir, 'api.log'));
    processes.push(api);
    const health = new TokexClient(tokexUrl);
    await eventually('the API to answer /health', () => health.get('/health').then(() => true), 90_000, 500);
    say('starting the worker');
    const worker = startProcess('worker', [MAIN, 'worker'], serviceEnv(rate), join(logDir, 'worker.log'));
    processes.push(worker);
    await worker.waitForLine(/workers started/, 60_000);
  };
  await startService(clockRate);

  // The market, set up as an operator would, through the admin API.
  const admin = new TokexClient(tokexUrl, adminKey);
  say('listing the model class, the spot market and a weekly forward');
  await admin.post('/v1/admin/model-classes', { id: MODEL, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 1, maxTtftMs: 10_000 });
  const spot: string = (await admin.post('/v1/admin/instruments', { modelClassId: MODEL, kind: 'spot', spotWindowSeconds: 3600 })).symbol;
  const forward: string = (await admin.post('/v1/admin/instruments', { modelClassId: MODEL, kind: 'forward', deliveryPeriod: demoWeek(Date.now(), demoClockAt(Date.now() + runMs + 60_000)) })).symbol;
  const names = new Map<string, string>();
  const participant = async (name: string, roles: string[], cash: string) => {
    const created = await admin.post('/v1/participants', { name, roles });
    await admin.post('/v1/admin/deposits', { participantId: created.participant.id, amount: cash }, `demo-deposit-${created.participant.id}`);
    names.set(created.participant.id, name);
    return { id: created.participant.id as string, name, key: created.apiKey.key as string };
  };
  const acme = await participant('Acme GPU Cloud', ['provider'], '1000.000000');
  const borealis = await participant('Borealis Inference', ['provider'], '1000.000000');
  const cobalt = await participant('Cobalt Labs', ['buyer'], '1000.000000');
  const delta = await participant('Delta AI', ['buyer'], '1000.000000');
  say(`participants: ${acme.name} and ${borealis.name} (providers), ${cobalt.name} and ${delta.name} (buyers), 1000 USD each`);

  // Each provider: a stub model server, a node registered with tokex, and a node agent in front.
  const endpoints = new Map<string, string>();
  const node = async (provider: { id: string; name: string; key: string }, label: string, inflateCompletionPct: number) => {
    // A little latency, as a real server has: an instant answer would look implausibly fast to metering.
    const stub = await startStubModelServer({ tokenizer: 'llama3', model: MODEL, ttftMs: 20, tokenDelayMs: 1, behaviour: { inflateCompletionPct } });
    stubs.push(stub);
    const agentPort = await freePort();
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const registered = await new TokexClient(tokexUrl, provider.key).post('/v1/nodes', {
      modelClassId: MODEL,
      name: label,
      baseUrl: `http://127.0.0.1:${agentPort}/v1`,
      metricsUrl: `http://127.0.0.1:${agentPort}/metrics`,
      publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
      tokensPerSecond: 200_000,
    });
    names.set(registered.id, label);
    const spool = join(logDir, `spool-${label}`);
    mkdirSync(spool, { recursive: true });
    const agent = startProcess(`agent ${label}`, [AGENT], {
      TOKEX_URL: tokexUrl,
      NODE_ID: registered.id,
      PROVIDER_ID: provider.id,
      MODEL_CLASS: MODEL,
      NODE_PRIVATE_KEY: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      UPSTREAM_URL: stub.baseUrl,
      SPOOL_DIR: spool,
      FLUSH_INTERVAL_MS: '500',
      KEYS_REFRESH_MS: '2000',
      PORT: String(agentPort),
      HOST: '127.0.0.1',
    }, join(logDir, `agent-${label}.log`));
    processes.push(agent);
    await agent.waitForLine(/tokex node agent listening/, 30_000);
    endpoints.set(provider.id, `http://127.0.0.1:${agentPort}/v1`);
    say(`node ${label}: stub model server ${stub.url}${inflateCompletionPct ? ` (inflates completion counts by ${inflateCompletionPct} %)` : ' (honest)'}, node agent http://127.0.0.1:${agentPort}`);
    return registered.id as string;
  };
  await node(acme, 'acme-gpu-1', 0);
  await node(borealis, 'borealis-gpu-1', 10);

  // The bots: public REST API and stream only.
  const random = prng(13);
  const botLog = (event: string, fields: Record<string, unknown>) => log(event, fields);
  const providerBots = [
    new ProviderBot({ name: acme.name, tokexUrl, apiKey: acme.key, modelClassId: MODEL, spot, forward, startTicks: 480, random, log: botLog }),
    new ProviderBot({ name: borealis.name, tokexUrl, apiKey: borealis.key, modelClassId: MODEL, spot, startTicks: 470, random, log: botLog }),
  ];
  const buyerBots = [
    new BuyerBot({ name: cobalt.name, tokexUrl, apiKey: cobalt.key, modelClassId: MODEL, spot, forward, endpoints, random, log: botLog }),
    new BuyerBot({ name: delta.name, tokexUrl, apiKey: delta.key, modelClassId: MODEL, spot, endpoints, random, log: botLog }),
  ];
  for (const bot of [...providerBots, ...buyerBots]) {
    await bot.start();
    bots.push(bot);
  }
  say(`market open: ${spot} and ${forward}; the service's clock runs ${clockRate}x (a demo day every ${Math.round(DAY_MS / clockRate / 1000)} s) for forward marks; running ${durationS} s`);

  // Progress: a live line on a terminal (every second), a line every 5 s otherwise.
  const ctx = { admin, modelClassId: MODEL, spot, forward, names };
  const started = Date.now();
  const tty = process.stdout.isTTY === true;
  let last: MarketReport | undefined;
  while (Date.now() - started < runMs && !interrupted) {
    await new Promise((resolve) => setTimeout(resolve, tty ? 1_000 : 5_000));
    last = await readReport(ctx).catch(() => last);
    if (!last) continue;
    const clock = new Date(demoClockAt(Date.now())).toISOString().slice(0, 16).replace('T', ' ');
    const line = progressLine(Math.round((Date.now() - started) / 1000), last, clock);
    log('demo.progress', { line });
    if (tty) process.stdout.write(`\r\x1b[2K${line.slice(0, (process.stdout.columns ?? 200) - 1)}`);
    else console.log(line);
  }
  if (tty) process.stdout.write('\n');
  if (interrupted) return 130;

  say('time is up: the bots stop and cancel their orders; waiting for the last usage to be verified and paid');
  await Promise.all(bots.splice(0).map((b) => b.stop()));
  // Let the agents post their last batches and the worker verify and pay them (at most 20 s).
  let report = await readReport(ctx);
  const inflatingName = borealis.name;
  for (let i = 0, stable = 0; i < 40 && stable < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const next = await readReport(ctx);
    const settled =
      next.deliveries.paid === report.deliveries.paid &&
      next.deliveries.delivered === report.deliveries.delivered &&
      disputesAgainst(next, inflatingName) > 0 &&
      next.scorecards.some((e) => e.provider === acme.name && e.verifiedTokens > 0);
    stable = settled ? stable + 1 : 0;
    report = next;
  }
  const checks = checksOf(report, acme.name, inflatingName);
  const ok = Object.values(checks).every(Boolean);
  console.log(summaryText(report, checks));
  const bought = buyerBots.reduce((s, b) => s + b.stats.requests, 0);
  log('demo.summary', { report, checks, ok, inferenceRequests: bought });

  let code = ok ? 0 : 1;
  if (args.exit) {
    const pids = processes.map((p) => p.pid);
    await stopAll();
    const left = pids.filter(isRunning);
    console.log(`\n${ok ? 'every check held' : 'some checks FAILED'}; stopped ${pids.length} processes${left.length ? `, but ${left.join(', ')} still run` : ''}`);
    if (left.length > 0) code = 1;
    console.log(`DEMO_SUMMARY ${JSON.stringify({ ok: ok && left.length === 0, checks, report, inferenceRequests: bought, pids, running: left, tokexUrl, database })}`);
    events.end();
    return code;
  }

  // Left up for a person: the service restarts on real time (the fast clock was for the run).
  say('restarting the API and the worker on real time, so the forward is not marked and expired at demo speed');
  const service = processes.filter((p) => p.name === 'api' || p.name === 'worker');
  for (const p of service) {
    await p.stop();
    processes.splice(processes.indexOf(p), 1);
  }
  await startService(1);
  console.log(`DEMO_SUMMARY ${JSON.stringify({ ok, checks, report, inferenceRequests: bought, pids: processes.map((p) => p.pid), tokexUrl, database })}`);
  console.log(`
  The demo market stays up (Ctrl-C stops every process the demo started)
    Console  ${tokexUrl}/ops      sign in with the admin key below
    Admin    ${adminKey}
    API      ${tokexUrl}/v1        Docs ${tokexUrl}/docs
    Stream   ${tokexUrl.replace('http', 'ws')}/v1/stream
    Logs     ${logDir}
`);
  await new Promise(() => undefined); // until a signal
  return code;
}

main().then(
  (code) => {
    void stopAll().then(() => process.exit(code));
  },
  (error) => {
    console.error(`tokex demo failed: ${error instanceof Error ? error.stack : String(error)}`);
    log('demo.failed', { error: String(error) });
    void stopAll().then(() => process.exit(1));
  },
);
