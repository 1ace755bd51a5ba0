/**
 * `npm run bench:ledger`: committed ledger transfers per second on the real PostgreSQL, through
 * the same repository the service uses (core rules, account locks in id order, one INSERT and one
 * UPDATE per batch).
 *
 *   one per transaction  each transfer its own transaction, from several clients at once
 *   batched              --batch transfers per transaction, from several clients at once
 *   batched, hot account every transfer also pays a fee into one shared account (the exchange's
 *                        fee account is the hottest row in a real ledger: every trade touches it)
 *
 * Options: --transfers N (per phase, default 50000), --clients N (default 2, one per core), --accounts N
 * (default 2000), --batch N (transfers per batched transaction, default 1000), --database URL (default postgres://postgres@127.0.0.1:5432/tokex_bench; dropped
 * and recreated).
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/app/data-source.js';
import { ensureMigrated } from '../src/platform/database/migrations.js';
import { AccountFlags, type AccountId, TransferFlags, type TransferRequest } from '../src/ledger/core/index.js';
import { LedgerRepository } from '../src/ledger/ledger.repository.js';
import { recreateDatabase } from '../src/platform/database/database-admin.js';

const { values: args } = parseArgs({
  options: {
    transfers: { type: 'string', default: '50000' },
    clients: { type: 'string', default: '2' },
    accounts: { type: 'string', default: '2000' },
    batch: { type: 'string', default: '1000' },
    database: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/tokex_bench' },
  },
});
const TRANSFERS = Number(args.transfers);
const CLIENTS = Number(args.clients);
const ACCOUNTS = Number(args.accounts);
const BATCH = Number(args.batch);

const repository = new LedgerRepository();

async function openAccounts(dataSource: DataSource): Promise<{ external: AccountId; fees: AccountId; cash: AccountId[] }> {
  const participants: Array<{ id: string }> = await dataSource.query(
    `INSERT INTO participants (name, roles) SELECT 'bench ' || n, '{buyer}' FROM generate_series(1, $1) AS n RETURNING id`,
    [ACCOUNTS],
  );
  const rows: Array<{ id: string }> = await dataSource.query(
    `INSERT INTO accounts (participant_id, kind, flags) SELECT unnest($1::uuid[]), 'available', $2 RETURNING id`,
    [participants.map((p) => p.id), AccountFlags.DebitsMustNotExceedCredits],
  );
  const system: Array<{ id: string; kind: string }> = await dataSource.query(`SELECT id, kind FROM accounts WHERE participant_id IS NULL`);
  const cash = rows.map((r) => BigInt(r.id));
  // Fund every account generously so transfers are never refused for lack of money.
  for (let i = 0; i < cash.length; i += 1000) {
    const slice = cash.slice(i, i + 1000);
    await dataSource.transaction((m) =>
      repository.createTransfers(
        m,
        slice.map((id) => ({ id: `fund:${id}`, debitAccountId: BigInt(system.find((s) => s.kind === 'external')!.id), creditAccountId: id, amount: 10n ** 12n, code: 'deposit' })),
      ),
    );
  }
  return {
    external: BigInt(system.find((s) => s.kind === 'external')!.id),
    fees: BigInt(system.find((s) => s.kind === 'fees')!.id),
    cash,
  };
}

/** Deterministic pseudo-random pairs (xorshift), the same every run. */
function* pairs(cash: AccountId[], seed: number): Generator<[AccountId, AccountId]> {
  let x = seed;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % cash.length;
  };
  for (;;) {
    const a = next();
    let b = next();
    if (b === a) b = (a + 1) % cash.length;
    yield [cash[a], cash[b]];
  }
}

interface PhaseResult {
  name: string;
  transfers: number;
  seconds: number;
}

/** Runs `count` transfers as transactions of `perTransaction`, from CLIENTS concurrent clients. */
async function phase(
  dataSource: DataSource,
  name: string,
  count: number,
  perTransaction: number,
  make: (n: number) => TransferRequest[],
): Promise<PhaseResult> {
  const transactions = Math.ceil(count / perTransaction);
  let next = 0;
  let done = 0;
  const started = performance.now();
  const progress = setInterval(() => {
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`  ${name}: ${done} / ${count} transfers (${Math.round(done / seconds)}/s)\r`);
  }, 1000);
  const client = async () => {
    for (let t = next++; t < transactions; t = next++) {
      const requests = make(t);
      const results = await dataSource.transaction((m) => repository.createTransfers(m, requests));
      const refused = results.find((r) => r.status !== 'created');
      if (refused) throw new Error(`transfer not created: ${JSON.stringify(refused)}`);
      done += requests.length;
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  clearInterval(progress);
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`  ${name}: ${done} transfers in ${seconds.toFixed(1)} s${' '.repeat(30)}\n`);
  return { name, transfers: done, seconds };
}

async function main(): Promise<void> {
  console.log(`tokex ledger benchmark: ${TRANSFERS} transfers per phase, ${CLIENTS} clients, ${ACCOUNTS} accounts`);
  console.log(`- preparing ${args.database}`);
  await recreateDatabase(args.database!);
  const dataSource = new DataSource(dataSourceOptions(args.database!, CLIENTS + 1));
  await dataSource.initialize();
  await ensureMigrated(dataSource, true);
  const { fees, cash } = await openAccounts(dataSource);
  const run = randomUUID().slice(0, 8);

  const single = pairs(cash, 1);
  const batched = pairs(cash, 2);
  const hot = pairs(cash, 3);
  const results: PhaseResult[] = [];
  console.log('- running');
  results.push(
    await phase(dataSource, 'one per transaction', Math.min(TRANSFERS, 20_000), 1, (n) => {
      const [from, to] = single.next().value!;
      return [{ id: `${run}:s:${n}`, debitAccountId: from, creditAccountId: to, amount: 1_000n, code: 'bench' }];
    }),
  );
  results.push(
    await phase(dataSource, `batched (${BATCH} per transaction)`, TRANSFERS, BATCH, (n) =>
      Array.from({ length: BATCH }, (_, i) => {
        const [from, to] = batched.next().value!;
        return { id: `${run}:b:${n}:${i}`, debitAccountId: from, creditAccountId: to, amount: 1_000n, code: 'bench' };
      }),
    ),
  );
  results.push(
    await phase(dataSource, `batched with a hot fee account`, TRANSFERS, BATCH, (n) =>
      Array.from({ length: BATCH / 2 }, (_, i) => {
        const [from, to] = hot.next().value!;
        // A trade and its fee apply together (a linked pair), the fee into the one shared account.
        return [
          { id: `${run}:h:${n}:${i}`, debitAccountId: from, creditAccountId: to, amount: 1_000n, code: 'bench', flags: TransferFlags.Linked },
          { id: `${run}:h:${n}:${i}:fee`, debitAccountId: from, creditAccountId: fees, amount: 3n, code: 'bench-fee' },
        ];
      }).flat(),
    ),
  );

  const [{ sum }] = await dataSource.query(`SELECT sum(credits_posted - debits_posted)::text AS sum FROM accounts`);
  await dataSource.destroy();

  console.log('\nresults (committed transfers per second)');
  for (const r of results) console.log(`  ${r.name.padEnd(34)} ${Math.round(r.transfers / r.seconds).toString().padStart(8)} /s`);
  console.log(`  trial balance after the run: ${sum} (must be 0)`);
  console.log('  aim: 20,000 /s batched on this machine; pgledger reports over 10,000 /s on a laptop');
  if (sum !== '0') process.exit(1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
