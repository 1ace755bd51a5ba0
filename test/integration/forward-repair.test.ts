import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { RepairInterimForwards1796300000400 } from '../../migrations/1796300000400-RepairInterimForwards.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { LedgerAuditService } from '../../src/ledger/ledger-audit.service.js';
import { ensureMigrated } from '../../src/platform/database/migrations.js';
import { MetricsService } from '../../src/platform/observability/metrics.service.js';
import { type OwnDatabase, ownDatabase } from '../support/own-database.js';

/**
 * The 0.4.0 repair of forwards traded under the interim rules (migrations/1796300000400, docs/forwards.md
 * "Repairing forwards traded before 0.4.0"), on the real PostgreSQL. The interim state is written
 * by SQL, transfer by transfer, as the interim order path wrote it (holds, escrow, buyer fees,
 * releases; sells' bonds kept on the order; seller fees recorded, never charged), then the
 * migration's `up()` runs again through a QueryRunner (the data source already ran it while
 * migrating, on nothing) and every figure is checked against hand-computed values.
 *
 * The migration acts on every forward order and fill of the database, so this suite runs in a
 * database of its own (`<test database>_forward_repair`, created fresh): other suites of a full
 * run leave forwards traded under the new rules in the shared one.
 *
 * Grid: tick 0.001 USD/MTok, lot 1,000 tokens, so notional = ticks × lots micro-USD. Fees round up,
 * once per order and role. The month F1 charges maker 5 / taker 10 bps; the week F2 maker 0 / taker
 * 1000 bps (so a seller's fee can exceed its 10 % bond); the spot book maker 0 / taker 10 bps.
 *
 * Participants: B (buyer), P (provider), X (buyer and provider: sells, then buys through flat to
 * long, so its position is rebuilt at average cost across the flip), Q (provider, whose fee its
 * bond cannot cover).
 *
 * F1, interim history (seq: what happened):
 *   1 P sells S1 3,000 @ 2.000, bond 600,000 (10 % at its limit, all lots)
 *   2 B buys O1 1,000 @ 2.100 (hold 2,103,150) and takes 1,000 of S1 at 2.000: fill f1, notional
 *     2,000,000, B's taker fee 2,000, P's maker fee 1,000 (not charged); O1 releases 101,150
 *   3 X sells S2 500 @ 2.050, bond 102,500
 *   4 B buys O2 2,500 @ 2.050 (hold 5,132,688): f2 2,000 of S1 at 2.000 (4,000,000; fee 4,000;
 *     P's maker fee 2,000), f3 500 of S2 at 2.050 (1,025,000; fee 1,025; X's maker fee 513);
 *     O2 releases 102,150 and 513. S1 and S2 filled, their bonds kept (600,000 and 102,500)
 *   5 P sells S3 1,000 @ 2.100, bond 210,000
 *   6 X buys O3 800 @ 2.100 (hold 1,682,520) and takes 800 of S3: f4 1,680,000, X's fee 1,680,
 *     P's maker fee 840; O3 releases 840. S3 stays open for 200 lots, its bond whole
 *   7 B's O4 buys 1,000 @ 1.900, open: hold 1,902,850
 *   8 P's S4 sells 400 @ 2.300, open: bond 92,000
 * F2: B's O5 buys 100 @ 3.000 (hold 330,000) and rests; Q's S5 sells 100 @ 2.500 (bond 25,000)
 *   and takes it at 3.000: g1, notional 300,000, B's maker fee 0, Q's taker fee 30,000; O5
 *   releases 30,000.
 * Spot: B's O6 buys 100 @ 1.000, open: hold 100,100 (untouched by the repair).
 */

const F1 = 'REPAIR-TEST-2027-01';
const F2 = 'REPAIR-TEST-2027-W05';
const SPOT = 'REPAIR-TEST-SPOT';
const f1 = `${F1}:2:0`;
const f2 = `${F1}:4:0`;
const f3 = `${F1}:4:1`;
const f4 = `${F1}:6:0`;
const g1 = `${F2}:2:0`;

type Kind = 'available' | 'held' | 'escrow' | 'margin' | 'bond';
const KINDS: readonly Kind[] = ['available', 'held', 'escrow', 'margin', 'bond'];
const NAMES = ['B', 'P', 'X', 'Q'] as const;
type Name = (typeof NAMES)[number];

let database: OwnDatabase;
let dataSource: DataSource;
const ids = {} as Record<Name, string>;
const accounts = {} as Record<Name, Record<Kind, string>>;
let fees: string;
let external: string;

beforeAll(async () => {
  database = await ownDatabase('forward_repair');
  // The migrations only (the repair is plain SQL and so is this test); two connections, as migrating needs.
  dataSource = new DataSource({
    type: 'postgres',
    url: database.url,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    extra: { max: 2 },
  });
  await dataSource.initialize();
  await ensureMigrated(dataSource, true);
  // The repair ran before the fee account had shards (FeeAccountShards, a later migration): one fee account, as then.
  await dataSource.query(`DELETE FROM accounts WHERE shard > 0`);
  await openMarketsAndParticipants();
});
afterAll(async () => {
  await dataSource?.destroy();
  await database?.drop();
});

async function openMarketsAndParticipants(): Promise<void> {
  await dataSource.query(
    `INSERT INTO model_classes (id, tokenizer, input_weight_bps, min_tokens_per_second, max_ttft_ms) VALUES ('repair-test', 'llama3', 2500, 20, 2000)`,
  );
  await dataSource.query(
    `INSERT INTO instruments (symbol, kind, model_class_id, tick_micro_usd_per_mtok, lot_tokens, maker_fee_bps, taker_fee_bps, collar_bps,
                              spot_window_seconds, bond_bps, initial_margin_bps, maintenance_margin_bps,
                              delivery_period, delivery_start, delivery_end, last_trade_at)
     VALUES ($1, 'spot', 'repair-test', 1000, 1000, 0, 10, 1000, 86400, 1000, NULL, NULL, NULL, NULL, NULL, NULL),
            ($2, 'forward', 'repair-test', 1000, 1000, 5, 10, 1000, NULL, 1000, 2000, 1000,
             '2027-01', '2027-01-01T00:00:00Z', '2027-02-01T00:00:00Z', '2026-12-31T00:00:00Z'),
            ($3, 'forward', 'repair-test', 1000, 1000, 0, 1000, 1000, NULL, 1000, 2000, 1000,
             '2027-W05', '2027-02-01T00:00:00Z', '2027-02-08T00:00:00Z', '2027-01-31T00:00:00Z')`,
    [SPOT, F1, F2],
  );
  const roles: Record<Name, string> = { B: '{buyer}', P: '{provider}', X: '{buyer,provider}', Q: '{provider}' };
  for (const name of NAMES) {
    const [row] = await dataSource.query(`INSERT INTO participants (name, roles) VALUES ($1, $2) RETURNING id`, [`repair ${name}`, roles[name]]);
    ids[name] = row.id;
    // As LedgerService.openParticipantAccounts opens them: five accounts, none can be overdrawn.
    const rows: Array<{ id: string; kind: Kind }> = await dataSource.query(
      `INSERT INTO accounts (participant_id, kind, flags) SELECT $1, kind, 1 FROM unnest($2::text[]) AS kind RETURNING id, kind`,
      [row.id, KINDS],
    );
    accounts[name] = Object.fromEntries(rows.map((r) => [r.kind, r.id])) as Record<Kind, string>;
  }
  [{ id: fees }] = await dataSource.query(`SELECT id FROM accounts WHERE participant_id IS NULL AND kind = 'fees'`);
  [{ id: external }] = await dataSource.query(`SELECT id FROM accounts WHERE participant_id IS NULL AND kind = 'external'`);
  await post('deposit:B', external, accounts.B.available, 100_000_000, 'deposit', 'B');
  await post('deposit:P', external, accounts.P.available, 50_000_000, 'deposit', 'P');
  await post('deposit:X', external, accounts.X.available, 50_000_000, 'deposit', 'X');
  await post('deposit:Q', external, accounts.Q.available, 10_000_000, 'deposit', 'Q');
  // Spot: an open buy whose hold the repair must leave alone.
  await order({ id: 301, who: 'B', instrument: SPOT, side: 'buy', price: 1000, quantity: 100, filled: 0, status: 'open', hold: 100_100, seq: 1 });
  await post('order:301:hold', accounts.B.available, accounts.B.held, 100_100, 'order-hold', '301');
}

/** One posted transfer and the two accounts' totals, as the order commit writes them. */
async function post(id: string, debit: string, credit: string, amount: number, code: string, ref: string): Promise<void> {
  await dataSource.query(
    `WITH t AS (
       INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, pending_id, flags, code, ref)
       VALUES ($1, $2, $3, $4, NULL, 0, $5, $6) RETURNING 1
     )
     UPDATE accounts SET debits_posted = debits_posted + CASE WHEN id = $2 THEN $4::bigint ELSE 0 END,
                         credits_posted = credits_posted + CASE WHEN id = $3 THEN $4::bigint ELSE 0 END
      WHERE id IN ($2, $3)`,
    [id, debit, credit, amount, code, ref],
  );
}

interface OrderSpec {
  id: number;
  who: Name;
  instrument: string;
  side: 'buy' | 'sell';
  price: number;
  quantity: number;
  filled: number;
  status: 'open' | 'filled';
  hold: number;
  seq: number;
  taker?: number;
  maker?: number;
  fees?: number;
}

async function order(o: OrderSpec): Promise<void> {
  await dataSource.query(
    `INSERT INTO orders (id, participant_id, instrument, client_order_id, side, type, time_in_force, price_ticks, quantity_lots, filled_lots,
                         status, self_trade_prevention, hold_micros, taker_notional_micros, maker_notional_micros, fees_micros,
                         accepted_seq, priority_seq, created_at, updated_at)
     VALUES ($1, $2, $3, NULL, $4, 'limit', 'GTC', $5, $6, $7, $8, 'cancel_taker', $9, $10, $11, $12, $13, $13,
             '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z')`,
    [o.id, ids[o.who], o.instrument, o.side, o.price, o.quantity, o.filled, o.status, o.hold, o.taker ?? 0, o.maker ?? 0, o.fees ?? 0, o.seq],
  );
}

interface FillSpec {
  id: string;
  instrument: string;
  seq: number;
  maker: number;
  taker: number;
  buyer: Name;
  seller: Name;
  takerSide: 'buy' | 'sell';
  price: number;
  lots: number;
  buyerFee: number;
  sellerFee: number;
}

/** A fill as the interim rules wrote it: the buyer's notional to escrow, its fee to the exchange; the seller's fee only recorded. */
async function fill(f: FillSpec): Promise<void> {
  const notional = f.price * f.lots;
  await dataSource.query(
    `INSERT INTO fills (id, instrument, seq, maker_order_id, taker_order_id, buyer_id, seller_id, taker_side, price_ticks, quantity_lots,
                        notional_micros, buyer_fee_micros, seller_fee_micros)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [f.id, f.instrument, f.seq, f.maker, f.taker, ids[f.buyer], ids[f.seller], f.takerSide, f.price, f.lots, notional, f.buyerFee, f.sellerFee],
  );
  await post(`fill:${f.id}:escrow`, accounts[f.buyer].held, accounts[f.buyer].escrow, notional, 'fill-escrow', f.id);
  if (f.buyerFee > 0) await post(`fill:${f.id}:buyer-fee`, accounts[f.buyer].held, fees, f.buyerFee, 'fill-fee', f.id);
}

async function interimForwardHistory(): Promise<void> {
  const { B, P, X, Q } = accounts;
  // F1
  await order({ id: 101, who: 'P', instrument: F1, side: 'sell', price: 2000, quantity: 3000, filled: 3000, status: 'filled', hold: 600_000, seq: 1, maker: 6_000_000, fees: 3000 });
  await post('order:101:hold', P.available, P.bond, 600_000, 'order-bond', '101');
  await order({ id: 102, who: 'B', instrument: F1, side: 'buy', price: 2100, quantity: 1000, filled: 1000, status: 'filled', hold: 0, seq: 2, taker: 2_000_000, fees: 2000 });
  await post('order:102:hold', B.available, B.held, 2_103_150, 'order-hold', '102');
  await fill({ id: f1, instrument: F1, seq: 2, maker: 101, taker: 102, buyer: 'B', seller: 'P', takerSide: 'buy', price: 2000, lots: 1000, buyerFee: 2000, sellerFee: 1000 });
  await post(`order:102:fill:${f1}`, B.held, B.available, 101_150, 'order-hold-release', '102');
  await order({ id: 103, who: 'X', instrument: F1, side: 'sell', price: 2050, quantity: 500, filled: 500, status: 'filled', hold: 102_500, seq: 3, maker: 1_025_000, fees: 513 });
  await post('order:103:hold', X.available, X.bond, 102_500, 'order-bond', '103');
  await order({ id: 104, who: 'B', instrument: F1, side: 'buy', price: 2050, quantity: 2500, filled: 2500, status: 'filled', hold: 0, seq: 4, taker: 5_025_000, fees: 5025 });
  await post('order:104:hold', B.available, B.held, 5_132_688, 'order-hold', '104');
  await fill({ id: f2, instrument: F1, seq: 4, maker: 101, taker: 104, buyer: 'B', seller: 'P', takerSide: 'buy', price: 2000, lots: 2000, buyerFee: 4000, sellerFee: 2000 });
  await post(`order:104:fill:${f2}`, B.held, B.available, 102_150, 'order-hold-release', '104');
  await fill({ id: f3, instrument: F1, seq: 4, maker: 103, taker: 104, buyer: 'B', seller: 'X', takerSide: 'buy', price: 2050, lots: 500, buyerFee: 1025, sellerFee: 513 });
  await post(`order:104:fill:${f3}`, B.held, B.available, 513, 'order-hold-release', '104');
  await order({ id: 105, who: 'P', instrument: F1, side: 'sell', price: 2100, quantity: 1000, filled: 800, status: 'open', hold: 210_000, seq: 5, maker: 1_680_000, fees: 840 });
  await post('order:105:hold', P.available, P.bond, 210_000, 'order-bond', '105');
  await order({ id: 106, who: 'X', instrument: F1, side: 'buy', price: 2100, quantity: 800, filled: 800, status: 'filled', hold: 0, seq: 6, taker: 1_680_000, fees: 1680 });
  await post('order:106:hold', X.available, X.held, 1_682_520, 'order-hold', '106');
  await fill({ id: f4, instrument: F1, seq: 6, maker: 105, taker: 106, buyer: 'X', seller: 'P', takerSide: 'buy', price: 2100, lots: 800, buyerFee: 1680, sellerFee: 840 });
  await post(`order:106:fill:${f4}`, X.held, X.available, 840, 'order-hold-release', '106');
  await order({ id: 107, who: 'B', instrument: F1, side: 'buy', price: 1900, quantity: 1000, filled: 0, status: 'open', hold: 1_902_850, seq: 7 });
  await post('order:107:hold', B.available, B.held, 1_902_850, 'order-hold', '107');
  await order({ id: 108, who: 'P', instrument: F1, side: 'sell', price: 2300, quantity: 400, filled: 0, status: 'open', hold: 92_000, seq: 8 });
  await post('order:108:hold', P.available, P.bond, 92_000, 'order-bond', '108');
  // F2
  await order({ id: 201, who: 'B', instrument: F2, side: 'buy', price: 3000, quantity: 100, filled: 100, status: 'filled', hold: 0, seq: 1, maker: 300_000, fees: 0 });
  await post('order:201:hold', B.available, B.held, 330_000, 'order-hold', '201');
  await order({ id: 202, who: 'Q', instrument: F2, side: 'sell', price: 2500, quantity: 100, filled: 100, status: 'filled', hold: 25_000, seq: 2, taker: 300_000, fees: 30_000 });
  await post('order:202:hold', Q.available, Q.bond, 25_000, 'order-bond', '202');
  await fill({ id: g1, instrument: F2, seq: 2, maker: 201, taker: 202, buyer: 'B', seller: 'Q', takerSide: 'sell', price: 3000, lots: 100, buyerFee: 0, sellerFee: 30_000 });
  await post(`order:201:fill:${g1}`, B.held, B.available, 30_000, 'order-hold-release', '201');
}

type Balances = Record<Name, Record<Kind, number>> & { fees: number; external: number };

async function balances(): Promise<Balances> {
  const rows: Array<{ id: string; balance: string }> = await dataSource.query(`SELECT id, (credits_posted - debits_posted)::text AS balance FROM accounts`);
  const of = new Map(rows.map((r) => [r.id, Number(r.balance)]));
  const result = { fees: of.get(fees)!, external: of.get(external)! } as Balances;
  for (const name of NAMES) result[name] = Object.fromEntries(KINDS.map((k) => [k, of.get(accounts[name][k])!])) as Record<Kind, number>;
  return result;
}

/** Everything the repair could touch, to compare before and after a run that must change nothing. */
async function snapshot() {
  return {
    accounts: await dataSource.query(`SELECT id, debits_pending, debits_posted, credits_pending, credits_posted FROM accounts ORDER BY id`),
    transfers: await dataSource.query(`SELECT id, debit_account_id, credit_account_id, amount, code, ref FROM transfers ORDER BY seq`),
    orders: await dataSource.query(`SELECT id, status, close_reason, hold_micros, updated_at FROM orders ORDER BY id`),
    positions: await dataSource.query(`SELECT * FROM forward_positions ORDER BY instrument, participant_id`),
  };
}

async function audit() {
  return new LedgerAuditService(dataSource, new MetricsService()).audit();
}

/** The migration's up(), through a QueryRunner of its own, with the notices it raised. */
async function runRepair(): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  const notices: string[] = [];
  try {
    const client = (await runner.connect()) as pg.PoolClient;
    const listen = (notice: { message?: string }) => notices.push(notice.message ?? '');
    client.on('notice', listen);
    try {
      await new RepairInterimForwards1796300000400().up(runner);
    } finally {
      client.off('notice', listen);
    }
  } finally {
    await runner.release();
  }
  return notices;
}

test('on a database with no forward orders or fills (forwards listed, spot trading), the repair changes nothing', async () => {
  const before = await snapshot();
  expect(before.transfers).toHaveLength(5);
  expect(await runRepair()).toEqual([]);
  expect(await snapshot()).toEqual(before);
});

test('the interim state: money stranded in escrow and bonds, seller fees uncharged, and a sound ledger', async () => {
  await interimForwardHistory();
  const b = await balances();
  expect(b.B).toEqual({ available: 90_665_025, held: 2_002_950, escrow: 7_325_000, margin: 0, bond: 0 });
  expect(b.P).toEqual({ available: 49_098_000, held: 0, escrow: 0, margin: 0, bond: 902_000 });
  expect(b.X).toEqual({ available: 48_215_820, held: 0, escrow: 1_680_000, margin: 0, bond: 102_500 });
  expect(b.Q).toEqual({ available: 9_975_000, held: 0, escrow: 0, margin: 0, bond: 25_000 });
  expect(b.fees).toBe(8_705);
  expect(b.external).toBe(-210_000_000);
  const result = await audit();
  expect(result.mismatches).toEqual([]);
  expect(result.sound).toBe(true);
});

test('the repair cancels open forward orders, moves escrow and kept bonds to margin, charges seller fees from it, and opens the positions', async () => {
  const notices = await runRepair();

  // Balances, every account (micro-USD).
  const b = await balances();
  // B: O4's hold back (1,902,850); its escrow on F1 (7,025,000) and F2 (300,000) now margin. The spot hold stays.
  expect(b.B).toEqual({ available: 92_567_875, held: 100_100, escrow: 0, margin: 7_325_000, bond: 0 });
  // P: S3's open 200 lots (42,000) and S4 (92,000) back; S1's 600,000 and S3's kept 168,000 on margin, less its
  // seller fees 1,000 + 2,000 + 840.
  expect(b.P).toEqual({ available: 49_232_000, held: 0, escrow: 0, margin: 764_160, bond: 0 });
  // X: S2's kept 102,500 and f4's escrow 1,680,000 on margin, less its seller fee 513.
  expect(b.X).toEqual({ available: 48_215_820, held: 0, escrow: 0, margin: 1_781_987, bond: 0 });
  // Q: S5's 25,000 on margin pays 25,000 of its 30,000 fee; 5,000 is not charged.
  expect(b.Q).toEqual({ available: 9_975_000, held: 0, escrow: 0, margin: 0, bond: 0 });
  expect(b.fees).toBe(8_705 + 1_000 + 2_000 + 513 + 840 + 25_000);
  expect(b.external).toBe(-210_000_000);

  // The transfers, one per order or fill and movement.
  const transfers: Array<{ id: string; debit: string; credit: string; amount: string; ref: string }> = await dataSource.query(
    `SELECT t.id, coalesce(p.name, d.kind) || ':' || d.kind AS debit, coalesce(q.name, c.kind) || ':' || c.kind AS credit, t.amount::text AS amount, t.ref
       FROM transfers t
       JOIN accounts d ON d.id = t.debit_account_id LEFT JOIN participants p ON p.id = d.participant_id
       JOIN accounts c ON c.id = t.credit_account_id LEFT JOIN participants q ON q.id = c.participant_id
      WHERE t.code = 'forward-repair' AND t.flags = 0 AND t.pending_id IS NULL
      ORDER BY t.id COLLATE "C"`,
  );
  const move = (id: string, debit: string, credit: string, amount: number, ref: string) => ({ id, debit, credit, amount: String(amount), ref });
  expect(transfers).toEqual(
    [
      move('repair-forward:101:margin', 'repair P:bond', 'repair P:margin', 600_000, '101'),
      move('repair-forward:103:margin', 'repair X:bond', 'repair X:margin', 102_500, '103'),
      move('repair-forward:105:hold', 'repair P:bond', 'repair P:available', 42_000, '105'),
      move('repair-forward:105:margin', 'repair P:bond', 'repair P:margin', 168_000, '105'),
      move('repair-forward:107:hold', 'repair B:held', 'repair B:available', 1_902_850, '107'),
      move('repair-forward:108:hold', 'repair P:bond', 'repair P:available', 92_000, '108'),
      move('repair-forward:202:margin', 'repair Q:bond', 'repair Q:margin', 25_000, '202'),
      move(`repair-forward:${f1}:escrow`, 'repair B:escrow', 'repair B:margin', 2_000_000, f1),
      move(`repair-forward:${f1}:seller-fee`, 'repair P:margin', 'fees:fees', 1_000, f1),
      move(`repair-forward:${f2}:escrow`, 'repair B:escrow', 'repair B:margin', 4_000_000, f2),
      move(`repair-forward:${f2}:seller-fee`, 'repair P:margin', 'fees:fees', 2_000, f2),
      move(`repair-forward:${f3}:escrow`, 'repair B:escrow', 'repair B:margin', 1_025_000, f3),
      move(`repair-forward:${f3}:seller-fee`, 'repair X:margin', 'fees:fees', 513, f3),
      move(`repair-forward:${f4}:escrow`, 'repair X:escrow', 'repair X:margin', 1_680_000, f4),
      move(`repair-forward:${f4}:seller-fee`, 'repair P:margin', 'fees:fees', 840, f4),
      move(`repair-forward:${g1}:escrow`, 'repair B:escrow', 'repair B:margin', 300_000, g1),
      move(`repair-forward:${g1}:seller-fee`, 'repair Q:margin', 'fees:fees', 25_000, g1),
    ].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)),
  );

  // Orders: the open forward ones cancelled, every forward sell's hold 0; filled buys and the spot buy as they were.
  const orders: Array<{ id: string; status: string; close_reason: string | null; hold: string; touched: boolean }> = await dataSource.query(
    `SELECT id::text, status, close_reason, hold_micros::text AS hold, updated_at > created_at AS touched FROM orders ORDER BY id`,
  );
  const row = (id: number, status: string, closeReason: string | null, hold: number, touched: boolean) => ({
    id: String(id),
    status,
    close_reason: closeReason,
    hold: String(hold),
    touched,
  });
  expect(orders).toEqual([
    row(101, 'filled', null, 0, true),
    row(102, 'filled', null, 0, false),
    row(103, 'filled', null, 0, true),
    row(104, 'filled', null, 0, false),
    row(105, 'cancelled', 'forward_rules_changed', 0, true),
    row(106, 'filled', null, 0, false),
    row(107, 'cancelled', 'forward_rules_changed', 0, true),
    row(108, 'cancelled', 'forward_rules_changed', 0, true),
    row(201, 'filled', null, 0, false),
    row(202, 'filled', null, 0, true),
    row(301, 'open', null, 100_100, false),
  ]);

  // Positions: net lots, average cost, margin basis at the fills' notional, the margin just moved.
  const positions: Array<Record<string, string | boolean>> = await dataSource.query(
    `SELECT p.instrument, q.name, p.lots::text, p.cost_ticks::text, p.margin_basis_micros::text AS basis, p.opened_seq::text AS opened,
            p.margin_micros::text AS margin, p.variation_micros::text AS variation, p.in_call, p.lots_at_mark::text,
            p.traded_ticks_since_mark::text AS traded
       FROM forward_positions p JOIN participants q ON q.id = p.participant_id ORDER BY p.instrument COLLATE "C", q.name COLLATE "C"`,
  );
  const position = (instrument: string, name: string, lots: number, cost: number, basis: number, opened: number, margin: number, traded: number) => ({
    instrument,
    name: `repair ${name}`,
    lots: String(lots),
    cost_ticks: String(cost),
    basis: String(basis),
    opened: String(opened),
    margin: String(margin),
    variation: '0',
    in_call: false,
    lots_at_mark: '0',
    traded: String(traded),
  });
  expect(positions).toEqual([
    // B bought 1,000 @ 2.000, 2,000 @ 2.000 and 500 @ 2.050.
    position(F1, 'B', 3500, 7_025_000, 7_025_000, 2, 7_025_000, 7_025_000),
    // P sold 1,000 and 2,000 @ 2.000 and 800 @ 2.100: margin 600,000 + 168,000 − 3,840 of fees.
    position(F1, 'P', -3800, 7_680_000, 7_680_000, 2, 764_160, -7_680_000),
    // X sold 500 @ 2.050 (seq 4), then bought 800 @ 2.100 (seq 6): the short closed, 300 long opened at 2.100.
    position(F1, 'X', 300, 630_000, 630_000, 6, 1_781_987, 655_000),
    position(F2, 'B', 100, 300_000, 300_000, 2, 300_000, 300_000),
    position(F2, 'Q', -100, 300_000, 300_000, 2, 0, -300_000),
  ]);
  // Each contract nets to zero, in lots and in traded ticks.
  for (const symbol of [F1, F2]) {
    const mine = positions.filter((p) => p.instrument === symbol);
    expect(mine.reduce((sum, p) => sum + BigInt(p.lots as string), 0n)).toBe(0n);
    expect(mine.reduce((sum, p) => sum + BigInt(p.traded as string), 0n)).toBe(0n);
  }
  // What each position's margin says is on the participant's margin account.
  for (const name of NAMES) {
    const onPositions = positions.filter((p) => p.name === `repair ${name}`).reduce((sum, p) => sum + Number(p.margin), 0);
    expect(onPositions).toBe(b[name].margin);
  }

  // The fee margin could not cover is named, and the repair summed up.
  expect(notices).toEqual([
    `forward repair: on ${F2}, ${ids.Q} owed 30000 micro-USD of seller fees (fills: 1); its margin on the contract covered 25000, 5000 micro-USD left uncharged`,
    'forward repair: 6 orders and 5 fills repaired, 17 transfers posted',
  ]);

  // The ledger audit: every account's totals rebuilt from its transfers, and the trial balance zero.
  const result = await audit();
  expect(result.mismatches).toEqual([]);
  expect(result.trialBalance.postedSum).toBe(0n);
  expect(result.trialBalance.pendingSum).toBe(0n);
  expect(result.sound).toBe(true);
});

test('running the repair again changes nothing', async () => {
  const before = await snapshot();
  expect(await runRepair()).toEqual([]);
  expect(await snapshot()).toEqual(before);
});

test('a repair that would overdraw an account applies nothing: the whole repair is one statement', async () => {
  // An interim fill on F2 (X buys 10 lots at 3.000 from P, who hold nothing there) whose escrow has
  // since left X's escrow account: moving it to margin would overdraw escrow, which the CHECK refuses.
  const lost = `${F2}:9:0`;
  await post('order:209:hold', accounts.X.available, accounts.X.held, 30_000, 'order-hold', '209');
  await fill({ id: lost, instrument: F2, seq: 9, maker: 202, taker: 209, buyer: 'X', seller: 'P', takerSide: 'buy', price: 3000, lots: 10, buyerFee: 0, sellerFee: 10 });
  await post(`test:${lost}:drain`, accounts.X.escrow, accounts.X.available, 30_000, 'test', lost);
  const before = await snapshot();
  await expect(runRepair()).rejects.toMatchObject({ code: '23514' });
  expect(await snapshot()).toEqual(before);
});

test('interim fills on a contract where positions already exist stop the repair: it runs before the new rules trade', async () => {
  const late = `${F1}:9:0`;
  await post('order:109:hold', accounts.B.available, accounts.B.held, 20_000, 'order-hold', '109');
  await fill({ id: late, instrument: F1, seq: 9, maker: 105, taker: 109, buyer: 'B', seller: 'P', takerSide: 'buy', price: 2000, lots: 10, buyerFee: 0, sellerFee: 10 });
  const before = await snapshot();
  await expect(runRepair()).rejects.toMatchObject({ code: 'P0001', message: expect.stringContaining('forward_positions already has a position') });
  expect(await snapshot()).toEqual(before);
});
