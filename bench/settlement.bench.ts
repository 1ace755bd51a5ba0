/**
 * `npm run bench:settlement`: the settlement worker under a steady flow of spot fills. It starts
 * the built service as a child process in the worker role (`node dist/src/main.js worker`: BullMQ
 * workers, no HTTP) on its own database, and from this process writes, straight into PostgreSQL,
 * what the order writer and metering would leave there:
 *
 *   fills        every 50 ms, the deliveries due at --rate per second, each with its money as a
 *                real spot fill leaves it (buyer available -> escrow, provider available -> bond)
 *                and its `escrow` settlement record, in one transaction per tick
 *   usage        for each delivery created a second earlier, one verified usage record and the
 *                delivery's delivered_tokens bumped (what metering's VerifiedUsageRepository.record does)
 *
 * Only the worker is measured: its payout sweep (`settlement.payouts`, every
 * SETTLEMENT_PAYOUT_INTERVAL_MS) and its close sweep (`settlement.close-windows`, every 200 ms with
 * no grace). Times come from the database: payout lag is the payout settlement's created_at (its
 * transaction's start) minus the usage's recorded_at, close lag the close settlement's created_at
 * minus the delivery's window_end. At the end, once every delivery is closed and every usage paid,
 * it checks the ledger (trial balance, every account rebuilt from its transfers) and every
 * delivery's money (paid + fee + refunded = notional; payout tokens = verified tokens).
 *
 * Options: --rate N (fills/s, default 2000), --duration S (default 20), --window S (delivery
 * window, default 5), --payout-interval MS (default 250), --buyers N (200), --providers N (50),
 * --timeout S (wait for the backlog after the run, default 120), --database URL (default
 * postgres://postgres@127.0.0.1:5432/tokex_bench_settlement; dropped and recreated), --redis URL
 * (default redis://127.0.0.1:6379/13, a database the tests do not flush).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { MIGRATIONS } from '../migrations/index.js';
import { arrayLiteral, literal } from '../src/platform/database/sql-literals.js';
import { AccountFlags, type TransferRequest } from '../src/ledger/core/index.js';
import { postTransfersSql } from '../src/ledger/ledger.repository.js';
import { recreateDatabase } from '../src/platform/database/database-admin.js';
import { CpuMeter } from './orders-load.js';
import { forgetQueues, random, serviceEnv } from './bench-support.js';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '2000' },
    duration: { type: 'string', default: '20' },
    window: { type: 'string', default: '5' },
    'payout-interval': { type: 'string', default: '250' },
    buyers: { type: 'string', default: '200' },
    providers: { type: 'string', default: '50' },
    timeout: { type: 'string', default: '120' },
    database: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/tokex_bench_settlement' },
    // A database of its own: the integration tests FLUSHDB databases 0 and 7 of the same Redis,
    // which would wipe the worker's job schedulers mid-run (they come back within 30 s).
    redis: { type: 'string', default: 'redis://127.0.0.1:6379/13' },
  },
});
const RATE = Number(args.rate);
const DURATION = Number(args.duration);
const WINDOW_SECONDS = Number(args.window);
const PAYOUT_INTERVAL_MS = Number(args['payout-interval']);
const TIMEOUT_SECONDS = Number(args.timeout);
const TICK_MS = 50;
const USAGE_DELAY_MS = 1000;
const CLOSE_INTERVAL_MS = 200;
const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

/** The terms of every synthetic fill: 1,000,000 tokens at 500 ticks (0.500 USD per million tokens). */
const TOKENS = 1_000_000n;
const PRICE_TICKS = 500;
const NOTIONAL = 500_000n;
const SELLER_FEE = 500n;
const BOND = 50_000n;

const fmt = (n: number) => Math.round(n).toLocaleString('en');
const ms = (n: number | null | undefined) => (n === null || n === undefined ? 'n/a' : `${n.toFixed(0)} ms`);
const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));

interface Worker {
  readonly child: ChildProcess;
  readonly queuePrefix: string;
  /** "job failed" and other warnings the worker logged, by message. */
  readonly failures: Map<string, number>;
}

/**
 * The built service in the worker role. It has no HTTP, so readiness is read from the outside:
 * every migration applied in PostgreSQL, and the settlement queue's job schedulers in Redis.
 */
async function startWorker(db: pg.Client): Promise<Worker> {
  const queuePrefix = `bench-settle-${randomUUID().slice(0, 8)}`;
  const child = spawn(process.execPath, [MAIN, 'worker'], {
    env: {
      ...serviceEnv(args.database!, args.redis!, queuePrefix),
      SETTLEMENT_PAYOUT_INTERVAL_MS: String(PAYOUT_INTERVAL_MS),
      SETTLEMENT_CLOSE_INTERVAL_MS: String(CLOSE_INTERVAL_MS),
      SETTLEMENT_CLOSE_GRACE_MS: '0',
      NODE_PROBE_INTERVAL_MS: '60000',
      LEDGER_CHECK_INTERVAL_MS: '3600000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Its log lines pass through; warnings (failed jobs above all) are counted by message.
  const failures = new Map<string, number>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    console.log(`  [worker] ${line.length > 400 ? `${line.slice(0, 400)}...` : line}`);
    try {
      const entry = JSON.parse(line) as { msg?: string; err?: string; job?: string };
      const key = `${entry.msg ?? '?'}${entry.job ? ` (${entry.job})` : ''}${entry.err ? `: ${entry.err}` : ''}`;
      failures.set(key, (failures.get(key) ?? 0) + 1);
    } catch {
      failures.set(line.slice(0, 200), (failures.get(line.slice(0, 200)) ?? 0) + 1);
    }
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  const redis = new Redis(args.redis!, { maxRetriesPerRequest: 1 });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) throw new Error('the worker exited during start-up (see its output above)');
      const migrated = await db
        .query(`SELECT count(*)::int AS n FROM migrations`)
        .then((r) => r.rows[0].n === MIGRATIONS.length, () => false);
      const scheduled = migrated && (await redis.zcard(`${queuePrefix}:settlement:repeat`)) >= 2;
      if (scheduled) break;
      if (Date.now() > deadline) throw new Error('the worker did not migrate and schedule its settlement jobs within 60 s');
      await sleep(100);
    }
  } catch (error) {
    if (!exited) child.kill('SIGTERM');
    throw error;
  } finally {
    redis.disconnect();
  }
  await sleep(2000);
  return { child, queuePrefix, failures };
}

interface Market {
  readonly symbol: string;
  readonly modelClassId: string;
  readonly buyers: Array<{ id: string; available: bigint; escrow: bigint }>;
  readonly providers: Array<{ id: string; available: bigint; bond: bigint }>;
}

/** A model class, its spot instrument, and funded buyers and providers with their five accounts each, all in SQL. */
async function setUpMarket(db: pg.Client): Promise<Market> {
  const modelClassId = `bench${randomUUID().slice(0, 8)}-70b`;
  const symbol = `${modelClassId.toUpperCase()}-SPOT`;
  await db.query(
    `INSERT INTO model_classes (id, tokenizer, input_weight_bps, min_tokens_per_second, max_ttft_ms) VALUES ($1, 'llama3', 2500, 20, 2000)`,
    [modelClassId],
  );
  await db.query(
    `INSERT INTO instruments (symbol, kind, model_class_id, tick_micro_usd_per_mtok, lot_tokens, maker_fee_bps, taker_fee_bps, collar_bps, spot_window_seconds, bond_bps)
     VALUES ($1, 'spot', $2, 1000, 1000, 0, 10, 1000, $3, 1000)`,
    [symbol, modelClassId, Math.max(1, Math.round(WINDOW_SECONDS))],
  );
  const open = async (role: 'buyer' | 'provider', count: number) => {
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO participants (name, roles) SELECT 'bench ' || $1 || ' ' || n, ARRAY[$1] FROM generate_series(1, $2) AS n RETURNING id`,
      [role, count],
    );
    const ids = rows.map((r) => r.id);
    // As LedgerService.openParticipantAccounts: five accounts, none of which may be overdrawn.
    const accounts = await db.query<{ participant_id: string; kind: string; id: string }>(
      `INSERT INTO accounts (participant_id, kind, flags)
       SELECT p, k, $2 FROM unnest($1::uuid[]) AS p CROSS JOIN unnest(ARRAY['available', 'held', 'escrow', 'margin', 'bond']) AS k
       RETURNING participant_id, kind, id::text`,
      [ids, AccountFlags.DebitsMustNotExceedCredits],
    );
    const byParticipant = new Map<string, Record<string, bigint>>();
    for (const a of accounts.rows) byParticipant.set(a.participant_id, { ...byParticipant.get(a.participant_id), [a.kind]: BigInt(a.id) });
    return ids.map((id) => ({ id, accounts: byParticipant.get(id)! }));
  };
  const buyers = (await open('buyer', Number(args.buyers))).map((b) => ({ id: b.id, available: b.accounts.available, escrow: b.accounts.escrow }));
  const providers = (await open('provider', Number(args.providers))).map((p) => ({ id: p.id, available: p.accounts.available, bond: p.accounts.bond }));
  const [{ id: external }] = (await db.query<{ id: string }>(`SELECT id::text FROM accounts WHERE participant_id IS NULL AND kind = 'external'`)).rows;
  // Deposits, as the funding module would post them: from the outside world to each available account.
  const deposits: TransferRequest[] = [
    ...buyers.map((b) => ({ id: `bench-deposit:${b.id}`, debitAccountId: BigInt(external), creditAccountId: b.available, amount: 1_000_000_000_000n, code: 'deposit', ref: b.id })),
    ...providers.map((p) => ({ id: `bench-deposit:${p.id}`, debitAccountId: BigInt(external), creditAccountId: p.available, amount: 100_000_000_000n, code: 'deposit', ref: p.id })),
  ];
  await db.query(`BEGIN;${postTransfersSql(deposits).join(';')};COMMIT`);
  return { symbol, modelClassId, buyers, providers };
}


interface GeneratorResult {
  readonly fills: number;
  readonly usages: number;
  readonly ticks: number[];
  readonly retries: Map<string, number>;
  /** Database clock when the first tick began and when the last tick with fills committed. */
  readonly startedAt: Date;
  readonly fillsEndedAt: Date;
}

/**
 * Fills at RATE per second for DURATION seconds, then usage only until every delivery has its
 * usage record: one transaction per 50 ms tick (a tick that ran late is followed at once by one
 * that catches up). Usage first: it updates existing deliveries, which the worker may hold for a
 * moment; the ledger's account locks come last, in id order, as the worker takes them.
 */
async function generate(db: pg.Client, market: Market, run: string): Promise<GeneratorResult> {
  const next = random(0x5eed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)];
  const awaitingUsage: Array<{ id: string; at: number }> = [];
  let head = 0;
  let fills = 0;
  let usages = 0;
  const ticks: number[] = [];
  const retries = new Map<string, number>();
  const total = Math.round(RATE * DURATION);
  const [{ now: startedAt }] = (await db.query<{ now: Date }>(`SELECT clock_timestamp() AS now`)).rows;
  let fillsEndedAt = startedAt;
  const start = performance.now();
  let lastReport = start;
  for (let tick = 0; ; tick++) {
    const wait = start + tick * TICK_MS - performance.now();
    if (wait > 0) await sleep(wait);
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - start) / 1000) * RATE));
    const statements: string[] = [];

    const usage: Array<{ id: string; tokens: number }> = [];
    while (head < awaitingUsage.length && awaitingUsage[head].at <= now - USAGE_DELAY_MS) {
      usage.push({ id: awaitingUsage[head].id, tokens: 100_000 + Math.floor(next() * 900_001) });
      head++;
    }
    if (usage.length > 0) {
      statements.push(`WITH u AS (
          INSERT INTO delivery_usage (id, delivery_id, tokens, recorded_at)
          SELECT 'usage:' || v.id, v.id, v.tokens, clock_timestamp()
            FROM unnest(${arrayLiteral(usage.map((u) => u.id), 'uuid')}, ${arrayLiteral(usage.map((u) => u.tokens), 'bigint')}) AS v(id, tokens)
          ON CONFLICT (id) DO NOTHING
          RETURNING delivery_id, tokens
        )
        UPDATE deliveries d SET delivered_tokens = d.delivered_tokens + u.tokens FROM u WHERE d.id = u.delivery_id`);
    }

    const batch: Array<{ id: string; fill: string; buyer: Market['buyers'][number]; provider: Market['providers'][number] }> = [];
    for (let n = fills; n < due; n++) batch.push({ id: randomUUID(), fill: `${run}-${n}`, buyer: pick(market.buyers), provider: pick(market.providers) });
    if (batch.length > 0) {
      // As insertDeliveriesSql and recordEscrowSql: the delivery, and its escrow step recorded as a settlement.
      statements.push(`WITH f AS (
          SELECT f.*, clock_timestamp() AS at
            FROM unnest(${arrayLiteral(batch.map((b) => b.id), 'uuid')}, ${arrayLiteral(batch.map((b) => b.fill), 'text')},
                        ${arrayLiteral(batch.map((b) => b.buyer.id), 'uuid')}, ${arrayLiteral(batch.map((b) => b.provider.id), 'uuid')})
              AS f(id, fill_id, buyer_id, provider_id)
        ), delivery AS (
          INSERT INTO deliveries (id, fill_id, instrument, model_class_id, buyer_id, provider_id, quantity_tokens, price_ticks,
                                  notional_micros, seller_fee_micros, bond_micros, window_start, window_end, created_at)
          SELECT id, fill_id, ${literal(market.symbol)}, ${literal(market.modelClassId)}, buyer_id, provider_id, ${TOKENS}, ${PRICE_TICKS},
                 ${NOTIONAL}, ${SELLER_FEE}, ${BOND}, at, at + make_interval(secs => ${WINDOW_SECONDS}), at
            FROM f
          RETURNING id, fill_id, buyer_id, provider_id
        )
        INSERT INTO settlements (key, kind, delivery_id, buyer_id, provider_id, tokens, amounts, transfer_ids, status)
        SELECT 'escrow:' || fill_id, 'escrow', id, buyer_id, provider_id, ${TOKENS},
               jsonb_build_object('escrow', '${NOTIONAL}', 'buyerFee', '0'), ARRAY['fill:' || fill_id || ':escrow'], 'done'
          FROM delivery`);
      const transfers: TransferRequest[] = batch.flatMap((b) => [
        { id: `fill:${b.fill}:escrow`, debitAccountId: b.buyer.available, creditAccountId: b.buyer.escrow, amount: NOTIONAL, code: 'fill-escrow', ref: b.fill },
        { id: `order:${b.fill}:bond`, debitAccountId: b.provider.available, creditAccountId: b.provider.bond, amount: BOND, code: 'order-bond', ref: b.fill },
      ]);
      statements.push(...postTransfersSql(transfers));
    }

    if (statements.length > 0) {
      const began = performance.now();
      for (let attempt = 1; ; attempt++) {
        try {
          await db.query(`BEGIN;${statements.join(';')};COMMIT`);
          break;
        } catch (error) {
          await db.query('ROLLBACK').catch(() => undefined);
          const reason = (error as Error).message;
          retries.set(reason, (retries.get(reason) ?? 0) + 1);
          if (attempt === 5) throw error;
        }
      }
      ticks.push(performance.now() - began);
      const committed = performance.now();
      for (const b of batch) awaitingUsage.push({ id: b.id, at: committed });
      fills += batch.length;
      usages += usage.length;
      if (batch.length > 0 && fills === total) fillsEndedAt = (await db.query<{ now: Date }>(`SELECT clock_timestamp() AS now`)).rows[0].now;
    }
    if (now - lastReport >= 1000) {
      lastReport = now;
      process.stdout.write(`  ${fmt(fills)} fills, ${fmt(usages)} usage records in ${((now - start) / 1000).toFixed(0)} s\r`);
    }
    if (fills === total && head === awaitingUsage.length) break;
  }
  process.stdout.write(`  ${fmt(fills)} fills and ${fmt(usages)} usage records written${' '.repeat(20)}\n`);
  return { fills, usages, ticks, retries, startedAt, fillsEndedAt };
}

/** Waits until every delivery is closed and every usage record paid; false on timeout. */
async function drain(db: pg.Client): Promise<boolean> {
  const deadline = Date.now() + TIMEOUT_SECONDS * 1000;
  for (;;) {
    const [{ open, unpaid }] = (
      await db.query<{ open: number; unpaid: number }>(
        `SELECT (SELECT count(*) FROM deliveries WHERE status = 'open')::int AS open,
                (SELECT count(*) FROM delivery_usage WHERE payout_id IS NULL)::int AS unpaid`,
      )
    ).rows;
    process.stdout.write(`  waiting for the worker: ${fmt(open)} deliveries open, ${fmt(unpaid)} usage records unpaid${' '.repeat(10)}\r`);
    if (open === 0 && unpaid === 0) {
      process.stdout.write(`  every delivery closed and every usage record paid${' '.repeat(40)}\n`);
      return true;
    }
    if (Date.now() > deadline) {
      process.stdout.write(`\n  gave up after ${TIMEOUT_SECONDS} s\n`);
      return false;
    }
    await sleep(200);
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function main(): Promise<void> {
  console.log(
    `tokex settlement benchmark: ${fmt(RATE)} fills/s for ${DURATION} s, ${WINDOW_SECONDS} s delivery windows, ` +
      `usage ${USAGE_DELAY_MS / 1000} s after each fill, payouts every ${PAYOUT_INTERVAL_MS} ms, closes every ${CLOSE_INTERVAL_MS} ms (no grace)`,
  );
  console.log('  (fills and usage are written straight into PostgreSQL by this process; the worker is what is measured)');
  console.log(`- preparing ${args.database}`);
  await recreateDatabase(args.database!);
  const db = new pg.Client({ connectionString: args.database, application_name: 'tokex-bench-settlement' });
  await db.connect();
  console.log('- starting the worker (node dist/src/main.js worker)');
  const worker = await startWorker(db);
  console.log(`  ready: every migration applied, settlement jobs scheduled (queue prefix ${worker.queuePrefix})`);
  try {
    console.log(`- setting up the market in SQL: ${args.buyers} buyers and ${args.providers} providers, five accounts each, funded`);
    const market = await setUpMarket(db);
    const meter = new CpuMeter(worker.child.pid!);
    const run = randomUUID().slice(0, 6);

    console.log('- running');
    meter.lap();
    const generated = await generate(db, market, run);
    const cpuRun = meter.lap();
    const settled = await drain(db);
    const cpuDrain = meter.lap();
    const [{ now: drainedAt }] = (await db.query<{ now: Date }>(`SELECT clock_timestamp() AS now`)).rows;

    // Lags, from the database's own timestamps.
    const payoutLags = (
      await db.query<{ lag: number }>(
        `SELECT extract(epoch FROM s.created_at - u.recorded_at)::float8 * 1000 AS lag
           FROM delivery_usage u JOIN settlements s ON s.id = u.payout_id ORDER BY 1`,
      )
    ).rows.map((r) => r.lag);
    const closeLags = (
      await db.query<{ lag: number }>(
        `SELECT extract(epoch FROM s.created_at - d.window_end)::float8 * 1000 AS lag
           FROM settlements s JOIN deliveries d ON d.id = s.delivery_id WHERE s.kind = 'close' ORDER BY 1`,
      )
    ).rows.map((r) => r.lag);
    const startedAt = generated.startedAt;
    const fillsEndedAt = generated.fillsEndedAt;
    const steadyFrom = new Date(startedAt.getTime() + WINDOW_SECONDS * 1000);
    const [t] = (
      await db.query<{
        closes_steady: number; closes_after: number; payouts_run: number; last_close: Date | null; last_window_end: Date | null;
        delivered: number; take_or_pay: number; breach: number; payout_rows: number; payout_batches: number;
      }>(
        `SELECT count(*) FILTER (WHERE kind = 'close' AND created_at >= $1 AND created_at < $2)::int AS closes_steady,
                count(*) FILTER (WHERE kind = 'close' AND created_at >= $2)::int AS closes_after,
                count(*) FILTER (WHERE kind = 'payout' AND created_at >= $3 AND created_at < $2)::int AS payouts_run,
                max(created_at) FILTER (WHERE kind = 'close') AS last_close,
                (SELECT max(window_end) FROM deliveries) AS last_window_end,
                (SELECT count(*) FROM deliveries WHERE outcome = 'delivered')::int AS delivered,
                (SELECT count(*) FROM deliveries WHERE outcome = 'take_or_pay')::int AS take_or_pay,
                (SELECT count(*) FROM deliveries WHERE outcome = 'breach')::int AS breach,
                count(*) FILTER (WHERE kind = 'payout')::int AS payout_rows,
                count(DISTINCT created_at) FILTER (WHERE kind = 'payout')::int AS payout_batches
           FROM settlements`,
        [steadyFrom, fillsEndedAt, startedAt],
      )
    ).rows;
    const seconds = (a: Date, b: Date) => (b.getTime() - a.getTime()) / 1000;
    const runSeconds = seconds(startedAt, fillsEndedAt);
    const steadySeconds = seconds(steadyFrom, fillsEndedAt);
    const afterSeconds = t.last_close ? seconds(fillsEndedAt, t.last_close) : NaN;

    // The ledger and every delivery's money, once everything is settled. (Statistics first: the
    // tables grew from nothing during the run, and the plans below need to know it.)
    await db.query(`ANALYZE accounts, transfers, deliveries, delivery_usage, settlements`);
    const [ledger] = (
      await db.query<{ balance: string; pending: string; odd_flags: number; mismatched_accounts: number; escrow_left: string; bond_left: string }>(
        `SELECT (SELECT sum(credits_posted - debits_posted) FROM accounts)::text AS balance,
                (SELECT sum(debits_pending) + sum(credits_pending) FROM accounts)::text AS pending,
                (SELECT count(*) FROM transfers WHERE flags <> 0)::int AS odd_flags,
                (SELECT count(*) FROM accounts a
                   LEFT JOIN (SELECT acc, sum(dr) AS dr, sum(cr) AS cr
                                FROM (SELECT debit_account_id AS acc, amount AS dr, 0::bigint AS cr FROM transfers
                                      UNION ALL SELECT credit_account_id, 0, amount FROM transfers) x GROUP BY acc) r ON r.acc = a.id
                  WHERE a.debits_posted <> coalesce(r.dr, 0) OR a.credits_posted <> coalesce(r.cr, 0))::int AS mismatched_accounts,
                (SELECT coalesce(sum(credits_posted - debits_posted), 0) FROM accounts WHERE kind = 'escrow')::text AS escrow_left,
                (SELECT coalesce(sum(credits_posted - debits_posted), 0) FROM accounts WHERE kind = 'bond')::text AS bond_left`,
      )
    ).rows;
    const [money] = (
      await db.query<{
        deliveries: number; open_deliveries: number; unbalanced_deliveries: number; tokens_off: number;
        payout_tokens_over: number; payout_tokens_under: number; extra_payouts: number;
      }>(
        `WITH s AS (
           SELECT delivery_id, sum(tokens) FILTER (WHERE kind = 'payout') AS payout_tokens,
                  sum(tokens) FILTER (WHERE kind IN ('payout', 'close')) AS settled_tokens,
                  count(*) FILTER (WHERE kind = 'payout' AND tokens > 0) AS payouts
             FROM settlements GROUP BY delivery_id
         ), u AS (SELECT delivery_id, count(*) AS records FROM delivery_usage GROUP BY delivery_id)
         SELECT count(*)::int AS deliveries,
                count(*) FILTER (WHERE d.status <> 'closed')::int AS open_deliveries,
                count(*) FILTER (WHERE d.paid_micros + d.fee_paid_micros + d.refunded_micros <> d.notional_micros)::int AS unbalanced_deliveries,
                count(*) FILTER (WHERE d.status = 'closed' AND coalesce(s.settled_tokens, 0) <> d.quantity_tokens)::int AS tokens_off,
                count(*) FILTER (WHERE coalesce(s.payout_tokens, 0) > least(d.delivered_tokens, d.quantity_tokens))::int AS payout_tokens_over,
                count(*) FILTER (WHERE coalesce(s.payout_tokens, 0) < least(d.delivered_tokens, d.quantity_tokens))::int AS payout_tokens_under,
                count(*) FILTER (WHERE coalesce(s.payouts, 0) > coalesce(u.records, 0))::int AS extra_payouts
           FROM deliveries d LEFT JOIN s ON s.delivery_id = d.id LEFT JOIN u ON u.delivery_id = d.id`,
      )
    ).rows;
    const [usage] = (
      await db.query<{ usage_unpaid: number; usage_misrouted: number }>(
        `SELECT count(*) FILTER (WHERE u.payout_id IS NULL)::int AS usage_unpaid,
                count(*) FILTER (WHERE u.payout_id IS NOT NULL AND (s.id IS NULL OR s.kind <> 'payout' OR s.delivery_id <> u.delivery_id))::int AS usage_misrouted
           FROM delivery_usage u LEFT JOIN settlements s ON s.id = u.payout_id`,
      )
    ).rows;
    const check = { ...ledger, ...money, ...usage };
    await db.end();

    const ticks = [...generated.ticks].sort((a, b) => a - b);
    const cpu = (c: { service: number; postgres: number; generator: number }) =>
      `${c.service.toFixed(2)} / ${c.postgres.toFixed(2)} / ${c.generator.toFixed(2)}`;
    const payoutP99 = percentile(payoutLags, 99);
    const sound = BigInt(check.balance) === 0n && BigInt(check.pending) === 0n && check.odd_flags === 0 && check.mismatched_accounts === 0;
    const conserved = check.unbalanced_deliveries === 0 && check.open_deliveries === 0 && check.tokens_off === 0;
    const failures = [...worker.failures].sort((a, b) => b[1] - a[1]);

    console.log(`\nresults (${fmt(RATE)} fills/s offered for ${DURATION} s; times from PostgreSQL; CPU in cores of 2: worker / PostgreSQL / bench)`);
    const row = (a: string, b: string) => console.log(`  ${a.padEnd(40)} ${b}`);
    row('fills written (SQL, by the bench)', `${fmt(generated.fills)} in ${runSeconds.toFixed(1)} s (${fmt(generated.fills / runSeconds)}/s); ${fmt(generated.usages)} usage records`);
    row('bench tick transaction', `p50 ${ms(percentile(ticks, 50))}, p99 ${ms(percentile(ticks, 99))}, max ${ms(ticks.at(-1))}`);
    row('escrow lag (fill -> escrow)', '0: moved in the fill\'s own transaction');
    row('payout lag (usage -> payout)', `p50 ${ms(percentile(payoutLags, 50))}, p99 ${ms(payoutP99)}, max ${ms(payoutLags.at(-1))} (${fmt(payoutLags.length)} usage records, ${fmt(t.payout_batches)} payout transactions)`);
    const closeP99 = percentile(closeLags, 99);
    row('close lag (window end -> close)', `p50 ${ms(percentile(closeLags, 50))}, p99 ${ms(closeP99)}, max ${ms(closeLags.at(-1))} (${fmt(closeLags.length)} closes)`);
    row('closes/s while fills arrive', `${fmt(t.closes_steady / steadySeconds)} (from the first window's end, ${steadySeconds.toFixed(1)} s)`);
    row('closes/s after the fills stop', `${fmt(t.closes_after / afterSeconds)} (${fmt(t.closes_after)} in ${afterSeconds.toFixed(1)} s)`);
    row('payouts/s while fills arrive', `${fmt(t.payouts_run / runSeconds)}`);
    row(
      'all closed after the fills stop',
      t.last_close && t.last_window_end
        ? `${afterSeconds.toFixed(1)} s (last close ${(seconds(t.last_window_end, t.last_close) * 1000).toFixed(0)} ms after the last window ended)`
        : 'n/a',
    );
    row('CPU during fills / during drain', `${cpu(cpuRun)}  |  ${cpu(cpuDrain)} (${seconds(fillsEndedAt, drainedAt).toFixed(1)} s)`);
    row('outcomes', `${fmt(t.delivered)} delivered, ${fmt(t.take_or_pay)} take-or-pay, ${fmt(t.breach)} breach`);
    row('ledger', `trial balance ${check.balance} (pending ${check.pending}); ${check.mismatched_accounts} accounts differ from a rebuild; ${sound ? 'sound' : 'NOT SOUND'}`);
    row('escrow and bond left', `${check.escrow_left} / ${check.bond_left} micro-USD`);
    row(
      'deliveries',
      `${fmt(check.deliveries)}; paid + fee + refunded = notional on all but ${check.unbalanced_deliveries}; ` +
        `${check.open_deliveries} open; ${check.tokens_off} with payout + close tokens != quantity`,
    );
    row('usage', `${check.usage_unpaid} unpaid; ${check.usage_misrouted} paid by a wrong record`);
    row(
      'payouts vs verified tokens',
      `${fmt(check.payout_tokens_over)} deliveries paid out for more tokens than verified (${fmt(check.extra_payouts)} with more payout steps than usage records), ` +
        `${fmt(check.payout_tokens_under)} for fewer`,
    );
    if (generated.retries.size) row('bench transactions retried', [...generated.retries].map(([k, v]) => `${k} ×${v}`).join('; '));
    row('worker warnings', failures.length ? failures.map(([k, v]) => `${k} ×${v}`).join('; ') : 'none');
    const verdict = (met: boolean) => (RATE < 2000 ? 'not run at 2,000/s' : met && settled ? 'met' : 'not met');
    console.log(`  aims (issue 15) at 2,000 fills/s: payout lag p99 under 1 s (${verdict(payoutP99 < 1000)}); close lag p99 under 2 s (${verdict(closeP99 < 2000)})`);
    if (!settled || !sound || !conserved || check.payout_tokens_over + check.payout_tokens_under > 0 || check.usage_misrouted > 0) process.exitCode = 1;
  } finally {
    if (worker.child.exitCode === null) {
      const exited = new Promise((resolve) => worker.child.once('exit', resolve));
      worker.child.kill('SIGTERM');
      await exited;
    }
    await forgetQueues(args.redis!, worker.queuePrefix);
  }
}


main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
