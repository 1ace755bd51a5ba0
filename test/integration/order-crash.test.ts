/**
 * Crash safety of order entry (market-rules §3: every accepted order, fill and cancel is durable
 * before the client is told; after a crash the book is exactly what was acknowledged).
 *
 * The built service runs as a child process (api role). Each round, traders fire concurrent mixed
 * orders and cancels at it, one at a time over REST, in batches (POST /v1/orders/batch) and over
 * the WebSocket (several in flight), the child is killed with SIGKILL at a seeded random moment, restarted,
 * and PostgreSQL is checked against what the clients were told. Then the restarted service has to
 * keep trading. Rounds share one instrument and one journal, so every round re-checks all earlier
 * acknowledgements too. ORDER_CRASH_SEED=n picks other kill points.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { type Answer, callService, type ChildService, childServiceEnv, expectStatus, spawnService } from '../support/child-service.js';
import { type Message, StreamClient } from '../support/stream-client.js';
import { BOOTSTRAP_ADMIN_KEY, TEST_DATABASE_URL } from '../support/test-app.js';
import { betweenOf, prng } from '../support/prng.js';
import { waitFor } from '../support/wait-for.js';

const SEED = Number(process.env.ORDER_CRASH_SEED ?? 20261127);
const BUYERS = 6;
const PROVIDERS = 4;
/** Each trader's clients: one sends one request at a time, one batches, one streams; 30 concurrent clients in all. */
const ENTRY = ['rest', 'batch', 'stream'] as const;
type Entry = (typeof ENTRY)[number];
/** Commands a batch carries, and messages the stream keeps in flight, at most. */
const MAX_BATCH = 12;
const MAX_IN_FLIGHT = 5;
/** A bound on each client's loop; the kill comes long before it. */
const MAX_REQUESTS_PER_CLIENT = 2_000;
const DEPOSIT_USD = 100_000n;
/** Default grid: tick 0.001 USD/MTok, lot 1,000 tokens. Orders straddle 0.500 so that some cross. */
const MID_TICKS = 500;

const random = prng(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
const between = betweenOf(random);

/** Kill points spread over 200–1500 ms of load (after every way in has been answered once): one per third of the range, random within it. */
const KILL_AFTER_MS = [0, 1, 2].map((i) => Math.round(200 + ((i + random()) * 1300) / 3));

const serviceEnv = childServiceEnv('order-crash');

interface Service {
  readonly child: ChildService;
  readonly url: string;
}

async function startService(): Promise<Service> {
  const child = spawnService('api', serviceEnv);
  const line = await child.waitForLine(/tokex listening/);
  return { child, url: JSON.parse(line).url as string };
}

/** Requests of the crash runs give up sooner than the default: a killed service never answers. */
const call = (service: Service, method: string, path: string, key: string, body?: unknown): Promise<Answer> =>
  callService(service.url, method, path, key, body, 10_000);

interface Trader {
  readonly id: string;
  readonly key: string;
  readonly side: 'buy' | 'sell';
  /** Ids of its orders acknowledged as open, candidates for a cancel. */
  readonly open: string[];
}

/**
 * What the clients were told. `acked`: a 2xx answer was read; `refused`: a 4xx, so nothing was
 * written; `unknown`: the answer was lost (the kill) or was a 503 (commit outcome not promised).
 */
type Outcome = 'acked' | 'refused' | 'unknown';
interface PlaceRecord {
  readonly via: Entry;
  readonly trader: Trader;
  readonly clientOrderId: string;
  outcome: Outcome;
  answer?: any;
}
interface CancelRecord {
  readonly via: Entry;
  readonly trader: Trader;
  readonly orderId: string;
  outcome: Outcome;
}

let db: pg.Client;
let service: Service;
let symbol: string;
let buyers: Trader[];
let providers: Trader[];
const places: PlaceRecord[] = [];
const cancels: CancelRecord[] = [];
const serverErrors: string[] = [];

beforeAll(async () => {
  db = new pg.Client({ connectionString: TEST_DATABASE_URL, application_name: 'order-crash-test' });
  await db.connect();
  service = await startService();
  const admin = (method: string, path: string, body: unknown) => call(service, method, path, BOOTSTRAP_ADMIN_KEY, body);

  const modelClassId = `crash${randomUUID().slice(0, 8)}-70b`;
  await expectStatus(admin('POST', '/v1/admin/model-classes', { id: modelClassId, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2000 }), 201);
  symbol = (await expectStatus(admin('POST', '/v1/admin/instruments', { modelClassId, kind: 'spot' }), 201)).body.symbol;

  const trader = async (side: 'buy' | 'sell', n: number): Promise<Trader> => {
    const role = side === 'buy' ? 'buyer' : 'provider';
    const created = await expectStatus(admin('POST', '/v1/participants', { name: `crash ${role} ${n}`, roles: [role] }), 201);
    const who: Trader = { id: created.body.participant.id, key: created.body.apiKey.key, side, open: [] };
    await expectStatus(admin('POST', '/v1/admin/deposits', { participantId: who.id, amount: String(DEPOSIT_USD) }), 201);
    if (side === 'sell') {
      // Ample capacity: 10M tokens/s over the one-day delivery window never limits this load.
      const publicKey = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
      const node = { modelClassId, baseUrl: 'http://127.0.0.1:9/v1', metricsUrl: 'http://127.0.0.1:9/metrics', publicKey, tokensPerSecond: 10_000_000 };
      await expectStatus(call(service, 'POST', '/v1/nodes', who.key, node), 201);
    }
    return who;
  };
  buyers = await Promise.all(Array.from({ length: BUYERS }, (_, n) => trader('buy', n)));
  providers = await Promise.all(Array.from({ length: PROVIDERS }, (_, n) => trader('sell', n)));
}, 30_000);

afterAll(async () => {
  if (service && service.child.process.exitCode === null && service.child.process.signalCode === null) {
    service.child.process.kill('SIGTERM');
    await service.child.exited();
  }
  await db?.end();
});

/** A place or a cancel, about a third of the orders crossing; recorded before it is sent. */
function nextCommand(who: Trader, via: Entry, round: number, index: number, n: number): { record: PlaceRecord | CancelRecord; body: Record<string, unknown> } {
  if (who.open.length > 0 && random() < 0.15) {
    const record: CancelRecord = { via, trader: who, orderId: who.open.splice(Math.floor(random() * who.open.length), 1)[0], outcome: 'unknown' };
    cancels.push(record);
    return { record, body: { op: 'cancel', orderId: record.orderId } };
  }
  // Buys between mid−10 and mid+5 ticks, sells between mid−5 and mid+10: about a third cross.
  const priceTicks = who.side === 'buy' ? between(MID_TICKS - 10, MID_TICKS + 5) : between(MID_TICKS - 5, MID_TICKS + 10);
  const record: PlaceRecord = { via, trader: who, clientOrderId: `r${round}-${who.id.slice(0, 8)}-${via}${index}-${n}`, outcome: 'unknown' };
  places.push(record);
  const body = {
    op: 'place',
    instrument: symbol,
    side: who.side,
    type: 'limit',
    price: (priceTicks / 1000).toFixed(3),
    quantity: between(1, 50) * 100_000,
    clientOrderId: record.clientOrderId,
    ...(random() < 0.2 ? { timeInForce: 'IOC' } : {}),
  };
  return { record, body };
}

/** The ways in that have had a command acknowledged this round; the kill waits for all three. */
let ackedVia = new Set<Entry>();
/** Commands sent and not yet answered, by way in: read at the kill. */
const inFlight: Record<Entry, number> = { rest: 0, batch: 0, stream: 0 };
let everyEntryAcked: () => void = () => undefined;

/** What a client learned from one command's status: 503 (queue full, book busy) is an honest answer under load; any other 5xx is a bug. */
function learn(record: PlaceRecord | CancelRecord, status: number, body: unknown): void {
  if (status >= 200 && status < 300) {
    record.outcome = 'acked';
    if (ackedVia.add(record.via).size === ENTRY.length) everyEntryAcked();
    if ('clientOrderId' in record) {
      const order = body as { id: string; status: string };
      record.answer = order;
      if (status === 201 && order.status === 'open') record.trader.open.push(order.id);
    }
  } else if (status >= 400 && status < 500) record.outcome = 'refused';
  else if (status !== 503) serverErrors.push(`${record.via}: ${status} ${JSON.stringify(body)}`);
}

/** One client: places (and sometimes cancels) orders until the kill, the way its entry sends them. */
async function client(who: Trader, via: Entry, round: number, index: number, killed: () => boolean): Promise<void> {
  if (via === 'stream') return streamClient(who, round, index, killed);
  for (let n = 0; n < MAX_REQUESTS_PER_CLIENT && !killed(); n++) {
    if (via === 'rest') {
      const { record, body } = nextCommand(who, via, round, index, n);
      const { op, ...rest } = body;
      inFlight.rest++;
      const answer = await request(() =>
        op === 'cancel' ? call(service, 'DELETE', `/v1/orders/${(record as CancelRecord).orderId}`, who.key) : call(service, 'POST', '/v1/orders', who.key, rest),
      );
      inFlight.rest--;
      if (answer) learn(record, answer.status, answer.body);
      continue;
    }
    const commands = Array.from({ length: between(2, MAX_BATCH) }, (_, i) => nextCommand(who, via, round, index, n * MAX_BATCH + i));
    inFlight.batch += commands.length;
    const answer = await request(() => call(service, 'POST', '/v1/orders/batch', who.key, { commands: commands.map((c) => c.body) }));
    inFlight.batch -= commands.length;
    if (!answer) continue;
    if (answer.status !== 200) {
      for (const { record } of commands) learn(record, answer.status, answer.body);
      continue;
    }
    answer.body.results.forEach((result: { statusCode: number; order?: unknown }, i: number) => learn(commands[i].record, result.statusCode, result.order ?? result));
  }
}

/** A stream client: keeps up to MAX_IN_FLIGHT orders in flight on one authenticated socket. */
async function streamClient(who: Trader, round: number, index: number, killed: () => boolean): Promise<void> {
  let stream: StreamClient;
  try {
    stream = await StreamClient.open(service.url);
    if ((await stream.request({ op: 'auth', apiKey: who.key }, 'authenticated')).op !== 'authenticated') throw new Error('not authenticated');
  } catch {
    return; // killed before it could start
  }
  for (let n = 0; n < MAX_REQUESTS_PER_CLIENT && !killed() && !stream.closed; n += MAX_IN_FLIGHT) {
    const from = stream.received.length;
    const sent = Array.from({ length: between(1, MAX_IN_FLIGHT) }, (_, i) => {
      const { record, body } = nextCommand(who, 'stream', round, index, n + i);
      const id = `${round}-${n + i}`;
      stream.send({ ...body, id });
      inFlight.stream++;
      return { id, record };
    });
    const answers = await stream
      .until('the answers', () => {
        if (stream.closed) return [] as Message[];
        const got = stream.received.slice(from).filter((m) => typeof m.id === 'string');
        return got.length >= sent.length ? got : undefined;
      }, 10_000)
      .catch(() => [] as Message[]);
    inFlight.stream -= sent.length;
    for (const { id, record } of sent) {
      const answer = answers.find((m) => m.id === id);
      if (answer) learn(record, answer.statusCode as number, answer.op === 'error' ? answer : answer.order);
    }
  }
  stream.close();
}

/** Sends one request; a failed fetch is the kill (every command in it: outcome unknown). */
async function request(send: () => Promise<Answer>): Promise<Answer | undefined> {
  try {
    return await send();
  } catch {
    return undefined; // the connection died with the child: outcome unknown
  }
}

interface OrderRow {
  id: string;
  participant_id: string;
  client_order_id: string | null;
  side: 'buy' | 'sell';
  status: string;
  quantity_lots: string;
  filled_lots: string;
  hold_micros: string;
  fees_micros: string;
}
interface FillRow {
  id: string;
  maker_order_id: string;
  taker_order_id: string;
  buyer_id: string;
  seller_id: string;
  taker_side: 'buy' | 'sell';
  quantity_lots: string;
  notional_micros: string;
  buyer_fee_micros: string;
}

/**
 * Everything PostgreSQL holds for this instrument, checked against the journal and against itself.
 * Returns the violations (empty when sound) and a few counts.
 */
async function checkDurableState(): Promise<{ violations: string[]; orders: number; fills: number; durableUnacked: number }> {
  const violations: string[] = [];
  const orders: OrderRow[] = (
    await db.query(
      `SELECT id, participant_id, client_order_id, side, status, quantity_lots, filled_lots, hold_micros, fees_micros FROM orders WHERE instrument = $1`,
      [symbol],
    )
  ).rows;
  const fills: FillRow[] = (
    await db.query(
      `SELECT id, maker_order_id, taker_order_id, buyer_id, seller_id, taker_side, quantity_lots, notional_micros, buyer_fee_micros
         FROM fills WHERE instrument = $1`,
      [symbol],
    )
  ).rows;
  const byId = new Map(orders.map((o) => [o.id, o]));
  const byClientId = new Map<string, OrderRow[]>();
  for (const o of orders) {
    const key = `${o.participant_id}/${o.client_order_id}`;
    byClientId.set(key, [...(byClientId.get(key) ?? []), o]);
  }
  const fillIds = new Set(fills.map((f) => f.id));

  // Every acknowledged order exists exactly once, by id and by clientOrderId, and nothing it was
  // told is undone: a closed answer stays closed as told; the fills it reported exist.
  let durableUnacked = 0;
  for (const p of places) {
    const rows = byClientId.get(`${p.trader.id}/${p.clientOrderId}`) ?? [];
    if (p.outcome === 'acked') {
      const row = byId.get(p.answer.id);
      if (rows.length !== 1 || !row || rows[0] !== row) {
        violations.push(`acknowledged order ${p.answer.id} (${p.clientOrderId}): ${rows.length} rows by clientOrderId, ${row ? 1 : 0} by id`);
        continue;
      }
      if (p.answer.status !== 'open' && row.status !== p.answer.status) violations.push(`order ${row.id} was answered ${p.answer.status}, is ${row.status}`);
      if (Number(row.filled_lots) * 1000 < p.answer.filledQuantity) violations.push(`order ${row.id} was answered with more filled than is durable`);
      for (const f of p.answer.fills) if (!fillIds.has(f.id)) violations.push(`fill ${f.id} of acknowledged order ${row.id} is missing`);
    } else if (p.outcome === 'refused') {
      if (rows.length > 0) violations.push(`refused order ${p.clientOrderId} exists as ${rows.map((r) => r.id)}`);
    } else {
      // Committed, but the answer was lost to the kill: allowed, if only once.
      if (rows.length > 1) violations.push(`unacknowledged order ${p.clientOrderId} exists ${rows.length} times`);
      durableUnacked += rows.length;
    }
  }
  for (const c of cancels) {
    if (c.outcome === 'acked' && byId.get(c.orderId)?.status !== 'cancelled') violations.push(`acknowledged cancel of ${c.orderId} was lost`);
  }

  // A killed process may have committed more than it answered, but never part of a batch: an order
  // that was never acknowledged may exist (and trade) only whole. So: every fill joins two existing
  // orders of opposite sides with the right owners, and each order's filled quantity is exactly
  // the sum of its fills (a fill without its order, or an order without its fills, would show).
  const filledByOrder = new Map<string, number>();
  for (const f of fills) {
    const maker = byId.get(f.maker_order_id);
    const taker = byId.get(f.taker_order_id);
    if (!maker || !taker) {
      violations.push(`fill ${f.id} references a missing order`);
      continue;
    }
    const [buy, sell] = taker.side === 'buy' ? [taker, maker] : [maker, taker];
    if (maker.side === taker.side || f.taker_side !== taker.side || f.buyer_id !== buy.participant_id || f.seller_id !== sell.participant_id) {
      violations.push(`fill ${f.id} does not match its orders`);
    }
    for (const id of [f.maker_order_id, f.taker_order_id]) filledByOrder.set(id, (filledByOrder.get(id) ?? 0) + Number(f.quantity_lots));
  }
  for (const o of orders) {
    const filled = Number(o.filled_lots);
    if (filled !== (filledByOrder.get(o.id) ?? 0)) violations.push(`order ${o.id} says ${filled} lots filled, its fills ${filledByOrder.get(o.id) ?? 0}`);
    if ((o.status === 'filled') !== (filled === Number(o.quantity_lots))) violations.push(`order ${o.id} is ${o.status} with ${filled}/${o.quantity_lots} lots filled`);
  }

  violations.push(...(await checkMoney(orders, fills)));
  return { violations, orders: orders.length, fills: fills.length, durableUnacked };
}

/**
 * Holds match open orders: per trader, `held` is the sum of its open buys' holds (closed orders
 * hold nothing), `bond` the bond of its open sells plus that of its open deliveries (a fill's bond
 * moves from its sell order to its delivery: see BatchMoney.trade), `escrow` the notional it
 * bought. Every fill made exactly one delivery with the fill's money and one escrow settlement
 * record. And no cash appeared or vanished: the trader's accounts plus the fees it paid equal
 * what it deposited.
 */
async function checkMoney(orders: OrderRow[], fills: FillRow[]): Promise<string[]> {
  const violations: string[] = [];
  const deliveries: Array<{ fill_id: string; provider_id: string; notional_micros: string; bond_micros: string; escrows: number }> = (
    await db.query(
      `SELECT d.fill_id, d.provider_id, d.notional_micros::text, d.bond_micros::text,
              (SELECT count(*)::int FROM settlements s WHERE s.delivery_id = d.id AND s.kind = 'escrow') AS escrows
         FROM deliveries d WHERE d.instrument = $1 AND d.status = 'open'`,
      [symbol],
    )
  ).rows;
  const deliveryOf = new Map(deliveries.map((d) => [d.fill_id, d]));
  for (const f of fills) {
    const d = deliveryOf.get(f.id);
    if (!d) violations.push(`fill ${f.id} has no delivery`);
    else if (d.notional_micros !== String(f.notional_micros) || d.escrows !== 1) violations.push(`fill ${f.id}: delivery ${JSON.stringify(d)} does not match`);
  }
  if (deliveries.length !== fills.length) violations.push(`${deliveries.length} deliveries for ${fills.length} fills`);
  const traders = [...buyers, ...providers];
  const rows: Array<{ participant_id: string; kind: string; balance: string }> = (
    await db.query(`SELECT participant_id, kind, (credits_posted - debits_posted)::text AS balance FROM accounts WHERE participant_id = ANY($1::uuid[])`, [
      traders.map((t) => t.id),
    ])
  ).rows;
  const sum = (values: Iterable<bigint>) => [...values].reduce((a, b) => a + b, 0n);
  for (const t of traders) {
    const balance = (kind: string) => BigInt(rows.find((r) => r.participant_id === t.id && r.kind === kind)!.balance);
    const own = orders.filter((o) => o.participant_id === t.id);
    const expected = {
      held: sum(own.filter((o) => o.side === 'buy' && o.status === 'open').map((o) => BigInt(o.hold_micros))),
      bond:
        sum(own.filter((o) => o.side === 'sell').map((o) => BigInt(o.hold_micros))) +
        sum(deliveries.filter((d) => d.provider_id === t.id).map((d) => BigInt(d.bond_micros))),
      escrow: sum(fills.filter((f) => f.buyer_id === t.id).map((f) => BigInt(f.notional_micros))),
    };
    for (const [kind, amount] of Object.entries(expected)) {
      if (balance(kind) !== amount) violations.push(`${t.side}er ${t.id}: ${kind} is ${balance(kind)}, its orders say ${amount}`);
    }
    for (const o of own) if (o.status !== 'open' && o.hold_micros !== '0') violations.push(`closed ${o.side} ${o.id} still holds ${o.hold_micros}`);
    const feesPaid = sum(own.filter((o) => o.side === 'buy').map((o) => BigInt(o.fees_micros)));
    const feesFilled = sum(fills.filter((f) => f.buyer_id === t.id).map((f) => BigInt(f.buyer_fee_micros)));
    if (feesPaid !== feesFilled) violations.push(`buyer ${t.id}: orders paid ${feesPaid} in fees, fills charged ${feesFilled}`);
    const total = sum(['available', 'held', 'escrow', 'margin', 'bond'].map(balance)) + feesPaid;
    if (total !== DEPOSIT_USD * 1_000_000n) violations.push(`${t.side}er ${t.id}: accounts and fees add up to ${total}, deposited ${DEPOSIT_USD * 1_000_000n}`);
  }
  return violations;
}

/** The dead process's book lock (book-ownership.ts) is free once PostgreSQL has ended its sessions. */
async function bookLockReleased(): Promise<void> {
  await waitFor('the killed service to release its book lock', async () => {
    const { rows } = await db.query(`SELECT pg_try_advisory_lock(hashtext('tokex:book:' || $1)) AS free`, [symbol]);
    if (!rows[0].free) return undefined;
    await db.query(`SELECT pg_advisory_unlock(hashtext('tokex:book:' || $1))`, [symbol]);
    return true;
  });
}

describe('order entry survives SIGKILL under concurrent load', () => {
  test.each(KILL_AFTER_MS.map((ms, round) => [round + 1, ms]))(
    `round %i: killed after %i ms of load (seed ${SEED})`,
    async (round, killAfterMs) => {
      // Load, then the kill at the chosen moment once every way in is trading (the kill point is the
      // point of the test, not a wait).
      let killed = false;
      const traders = [...buyers, ...providers];
      for (const t of traders) t.open.length = 0;
      const [placesBefore, cancelsBefore] = [places.length, cancels.length];
      ackedVia = new Set();
      const trading = new Promise<void>((resolve) => (everyEntryAcked = resolve));
      const load = Promise.all(traders.flatMap((t) => ENTRY.map((via, i) => client(t, via, round, i, () => killed))));
      await trading;
      await delay(killAfterMs);
      killed = true;
      const inFlightAtKill = { ...inFlight };
      service.child.process.kill('SIGKILL');
      await load;
      expect(await service.child.exited()).toBeNull(); // no exit code: it died of the signal
      const sent = [...places.slice(placesBefore), ...cancels.slice(cancelsBefore)];
      // The kill must land under load, on every way in: acknowledged orders before it, commands in
      // flight at it. (A group commit may still answer those in the instant before the process dies,
      // so in flight is counted as the kill is sent, not by the answers lost.)
      for (const via of ENTRY) {
        expect([via, sent.filter((r) => r.via === via && r.outcome === 'acked').length > 0, inFlightAtKill[via] > 0]).toEqual([via, true, true]);
      }
      expect(sent.filter((r) => r.outcome === 'unknown').length).toBeGreaterThan(0);
      expect(serverErrors).toEqual([]);

      await bookLockReleased();
      service = await startService();

      // PostgreSQL before the restarted service touches the book: what the crash left.
      const state = await checkDurableState();
      expect(state.violations).toEqual([]);
      const audit = await expectStatus(call(service, 'POST', '/v1/admin/ledger/audit', BOOTSTRAP_ADMIN_KEY, {}), 200);
      expect(audit.body).toMatchObject({ sound: true, trialBalance: { balanced: true, postedSum: '0.000000' }, mismatches: [] });

      // The restarted service rebuilt the book from PostgreSQL: mass cancel (through the book in
      // memory) must close every open order in the database and release every hold.
      for (const t of traders) await expectStatus(call(service, 'DELETE', `/v1/orders?instrument=${symbol}`, t.key), 200);
      const { rows: stillOpen } = await db.query(`SELECT id FROM orders WHERE instrument = $1 AND status = 'open'`, [symbol]);
      expect(stillOpen).toEqual([]);
      expect((await checkDurableState()).violations).toEqual([]);

      // And it keeps trading: a crossing pair on the now empty book fills, maker's price.
      const [b, p] = [pick(buyers), pick(providers)];
      const order = { instrument: symbol, type: 'limit', price: '0.500', quantity: 1_000_000 };
      const sell = await expectStatus(call(service, 'POST', '/v1/orders', p.key, { ...order, side: 'sell' }), 201);
      const buy = await expectStatus(call(service, 'POST', '/v1/orders', b.key, { ...order, side: 'buy', price: '0.510' }), 201);
      expect(buy.body).toMatchObject({ status: 'filled', fills: [expect.objectContaining({ price: '0.500', quantity: 1_000_000 })] });
      expect((await expectStatus(call(service, 'GET', `/v1/orders/${sell.body.id}`, p.key), 200)).body).toMatchObject({ status: 'filled' });
    },
    30_000,
  );
});
