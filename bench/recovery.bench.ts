/**
 * `npm run bench:recovery`: how long the API takes to serve every book again after it is killed
 * with a million resting orders, and how much memory it holds with those books loaded.
 *
 *   1. A fresh database; the built service (api role) migrates it, and through the API the bench
 *      lists --instruments spot instruments (one model class each) and --traders participants.
 *   2. The service stops; --orders resting limit orders are written straight into PostgreSQL,
 *      spread evenly over the instruments, buys below the mid and sells above it (nothing
 *      crosses), each on its own price level within 200 ticks, and each book's position.
 *      Written as the order writer leaves them, except that they hold no cash (the holds are
 *      not what a restart reads slower or faster); the order path is measured by bench:orders.
 *   3. The service starts and every book is asked for (GET /v1/markets/:symbol/book): the first
 *      load. Its resident memory is read from /proc.
 *   4. It is killed with SIGKILL, started again, and timed: from the spawn to /health, and to
 *      every book answering, all asked at once as soon as /health answers. Each book's open
 *      quantity is checked against PostgreSQL, and the CPU time the service and PostgreSQL spent
 *      meanwhile is printed.
 *
 * Options: --orders N (default 1000000), --instruments N (100), --traders N (200), --database
 * URL (default postgres://postgres@127.0.0.1:5432/tokex_bench_recovery; dropped and recreated),
 * --redis URL, --node-flags="FLAGS" (Node/V8 flags for the service, space-separated; with the `=`,
 * as the flags start with dashes).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { recreateDatabase } from '../src/platform/database/database-admin.js';
import { api, type ApiProcess, startApi, stopProcess } from './bench-support.js';
import { CpuMeter } from './orders-load.js';

const { values: args } = parseArgs({
  options: {
    orders: { type: 'string', default: '1000000' },
    instruments: { type: 'string', default: '100' },
    traders: { type: 'string', default: '200' },
    database: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/tokex_bench_recovery' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    'node-flags': { type: 'string', default: '' },
  },
});
const ORDERS = Number(args.orders);
const INSTRUMENTS = Number(args.instruments);
const TRADERS = Number(args.traders);
const ADMIN_KEY = `tkx_bench_admin_${randomUUID().replaceAll('-', '')}`;
/** Orders written per statement. */
const CHUNK = 50_000;

const NODE_FLAGS = args['node-flags']!.split(' ').filter(Boolean);
const start = () => startApi({ database: args.database!, redis: args.redis!, adminKey: ADMIN_KEY, name: 'bench-recovery', nodeFlags: NODE_FLAGS });

/** Resident memory of a process, in MiB, from /proc. */
function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

/** Lists the instruments and creates the traders (half buyers, half providers) through the API. */
async function setUp(service: ApiProcess): Promise<{ symbols: string[]; buyers: string[]; sellers: string[] }> {
  const symbols: string[] = [];
  for (let i = 0; i < INSTRUMENTS; i++) {
    const modelClassId = `rec${i}-${randomUUID().slice(0, 6)}-8b`;
    await api(service.url, 'POST', '/v1/admin/model-classes', ADMIN_KEY, { id: modelClassId, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2000 });
    symbols.push((await api(service.url, 'POST', '/v1/admin/instruments', ADMIN_KEY, { modelClassId, kind: 'spot' })).symbol);
  }
  const participant = async (role: string, n: number) => (await api(service.url, 'POST', '/v1/participants', ADMIN_KEY, { name: `recovery ${role} ${n}`, roles: [role] })).participant.id as string;
  const buyers = await Promise.all(Array.from({ length: Math.ceil(TRADERS / 2) }, (_, n) => participant('buyer', n)));
  const sellers = await Promise.all(Array.from({ length: Math.floor(TRADERS / 2) }, (_, n) => participant('provider', n)));
  return { symbols, buyers, sellers };
}

/**
 * Writes the resting orders, CHUNK at a time: order n of an instrument is a buy when n is even
 * (at mid − 1 − n mod 200 ticks) and a sell when odd (mid + 1 + n mod 200), 1 to 20 lots, from
 * the traders in turn; priority in order of n. Then each book's position (its last sequence).
 */
async function seed(db: pg.Client, symbols: string[], buyers: string[], sellers: string[]): Promise<void> {
  const perBook = Math.ceil(ORDERS / symbols.length);
  let written = 0;
  const started = performance.now();
  for (const symbol of symbols) {
    for (let from = 1; from <= perBook; from += CHUNK) {
      const to = Math.min(perBook, from + CHUNK - 1);
      await db.query(
        `INSERT INTO orders (id, participant_id, instrument, side, type, time_in_force, price_ticks, quantity_lots, status,
                             self_trade_prevention, accepted_seq, priority_seq)
         SELECT nextval('order_ids'),
                CASE WHEN n % 2 = 0 THEN ($2::uuid[])[1 + (n / 2) % cardinality($2::uuid[])] ELSE ($3::uuid[])[1 + (n / 2) % cardinality($3::uuid[])] END,
                $1, CASE WHEN n % 2 = 0 THEN 'buy' ELSE 'sell' END, 'limit', 'GTC',
                CASE WHEN n % 2 = 0 THEN 499 - n % 200 ELSE 501 + n % 200 END, 1 + n % 20, 'open', 'cancel_taker', n, n
           FROM generate_series($4::bigint, $5::bigint) AS n`,
        [symbol, buyers, sellers, from, to],
      );
      written += to - from + 1;
      const seconds = (performance.now() - started) / 1000;
      process.stdout.write(`  ${written.toLocaleString('en')} orders written in ${seconds.toFixed(1)} s (${Math.round(written / seconds).toLocaleString('en')}/s)\r`);
    }
    await db.query(`INSERT INTO instrument_books (instrument, last_seq) VALUES ($1, $2) ON CONFLICT (instrument) DO UPDATE SET last_seq = excluded.last_seq`, [symbol, perBook]);
  }
  process.stdout.write('\n');
  await db.query('ANALYZE orders');
}

/** Asks every book at once; resolves when each has answered 200, with its open bid and ask quantity. */
async function serveAll(service: ApiProcess, symbols: string[]): Promise<Map<string, number>> {
  const open = new Map<string, number>();
  await Promise.all(
    symbols.map(async (symbol) => {
      for (;;) {
        const response = await fetch(`${service.url}/v1/markets/${symbol}/book?depth=1000`);
        if (response.ok) {
          const book = (await response.json()) as { bids: Array<{ quantity: number }>; asks: Array<{ quantity: number }> };
          open.set(symbol, [...book.bids, ...book.asks].reduce((sum, level) => sum + level.quantity, 0));
          return;
        }
        if (response.status !== 503) throw new Error(`book ${symbol}: ${response.status} ${await response.text()}`);
      }
    }),
  );
  return open;
}

async function main(): Promise<void> {
  console.log(`tokex recovery benchmark: ${ORDERS.toLocaleString('en')} resting orders over ${INSTRUMENTS} instruments${NODE_FLAGS.length > 0 ? `; service flags: ${NODE_FLAGS.join(' ')}` : ''}`);
  console.log(`- preparing ${args.database}`);
  await recreateDatabase(args.database!);
  let service = await start();
  const db = new pg.Client({ connectionString: args.database });
  await db.connect();
  try {
    console.log(`- listing ${INSTRUMENTS} instruments and creating ${TRADERS} traders through the API`);
    const { symbols, buyers, sellers } = await setUp(service);
    await stopProcess(service.child);
    console.log(`- writing ${ORDERS.toLocaleString('en')} resting orders into PostgreSQL`);
    await seed(db, symbols, buyers, sellers);

    console.log('- first start: loading every book');
    service = await start();
    let at = performance.now();
    await serveAll(service, symbols);
    const firstLoad = (performance.now() - at) / 1000;
    const loadedRss = rssMiB(service.child.pid!);
    console.log(`  every book served after ${firstLoad.toFixed(2)} s; resident memory ${loadedRss.toFixed(0)} MiB`);

    console.log('- SIGKILL, then start again');
    await stopProcess(service.child, 'SIGKILL');
    at = performance.now();
    const postgresBefore = CpuMeter.postgresSeconds();
    service = await start();
    const healthy = (performance.now() - at) / 1000;
    const served = await serveAll(service, symbols);
    const recovered = (performance.now() - at) / 1000;
    const recoveredRss = rssMiB(service.child.pid!);
    // Where the restart's CPU went: the service's whole life so far, PostgreSQL's since the spawn.
    const cpu = { service: CpuMeter.processSeconds(service.child.pid!), postgres: CpuMeter.postgresSeconds() - postgresBefore };

    // Every book holds exactly what PostgreSQL says is open on it (depth 1000 covers its 400 levels).
    const { rows } = await db.query<{ instrument: string; lots: string }>(
      `SELECT instrument, sum(quantity_lots - filled_lots)::text AS lots FROM orders WHERE status = 'open' GROUP BY instrument`,
    );
    const wrong = rows.filter((r) => served.get(r.instrument) !== Number(r.lots) * 1000);
    const [{ count }] = (await db.query<{ count: number }>(`SELECT count(*)::int AS count FROM orders WHERE status = 'open'`)).rows;

    console.log(`\nresults (${count.toLocaleString('en')} resting orders, ${INSTRUMENTS} books)`);
    console.log(`  first load, every book served:         ${firstLoad.toFixed(2)} s`);
    console.log(`  after SIGKILL: /health answers after   ${healthy.toFixed(2)} s`);
    console.log(`  after SIGKILL: every book served after ${recovered.toFixed(2)} s`);
    console.log(`  CPU during the restart:                service ${cpu.service.toFixed(2)} s, PostgreSQL ${cpu.postgres.toFixed(2)} s`);
    console.log(`  API resident memory, books loaded:     ${loadedRss.toFixed(0)} MiB (first start), ${recoveredRss.toFixed(0)} MiB (after the restart)`);
    console.log(`  books matching PostgreSQL:             ${rows.length - wrong.length} of ${rows.length}`);
    console.log(`  aims (issue 15): recovery under 5 s (${recovered < 5 ? 'met' : 'not met'}); memory under 1 GB (${recoveredRss < 1024 ? 'met' : 'not met'})`);
    if (wrong.length > 0) process.exitCode = 1;
  } finally {
    await stopProcess(service.child);
    await db.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
