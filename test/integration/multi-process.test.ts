/**
 * One deployment of several processes on one box: two API processes and two workers share one
 * PostgreSQL database and one QUEUE_PREFIX (src/orders/book-gateway.ts). Any API process accepts
 * any order: the process that owns the book (its advisory lock) runs it, the other relays it over
 * Redis; committed batches fan out through Redis, so the WebSocket stream of every API process
 * shows the same sequenced deltas. When the owner dies, the survivor takes the book over and
 * rebuilds it from PostgreSQL.
 *
 * The built service (dist/) runs as real child processes: `npx tsc -p tsconfig.build.json` first.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import pg from 'pg';
import { BookReplica, type BookUpdate } from '../../src/market-data/book-replica.js';
import { type Answer, callService, type ChildService, childServiceEnv, expectStatus, spawnService } from '../support/child-service.js';
import { betweenOf, prng } from '../support/prng.js';
import { BOOTSTRAP_ADMIN_KEY, TEST_DATABASE_URL } from '../support/test-app.js';
import { type Message, StreamClient } from '../support/stream-client.js';
import { waitFor } from '../support/wait-for.js';

const random = prng(Number(process.env.MULTI_PROCESS_SEED ?? 4242));
const between = betweenOf(random);

const env = childServiceEnv('multi-process');
const DEPOSIT_USD = '100000';
/** Default grid: tick 0.001 USD/MTok, lot 1,000 tokens. Orders straddle 0.500 so that many cross. */
const MID_TICKS = 500;

interface Api {
  readonly name: string;
  readonly child: ChildService;
  readonly url: string;
}
interface Trader {
  readonly id: string;
  readonly key: string;
  readonly side: 'buy' | 'sell';
}

async function startApi(name: string): Promise<Api> {
  const child = spawnService('api', env);
  const line = await child.waitForLine(/tokex listening/, 30_000);
  return { name, child, url: JSON.parse(line).url as string };
}

async function startWorker(): Promise<ChildService> {
  const child = spawnService('worker', env);
  await child.waitForLine(/tokex worker started/, 30_000);
  return child;
}

const call = (api: Api, method: string, path: string, key?: string, body?: unknown): Promise<Answer> => callService(api.url, method, path, key, body);

/** A snapshot or delta of the book channel. */
type BookFrame = Message & BookUpdate;

let db: pg.Client;
let apis: Api[];
let workers: ChildService[];
let symbol: string;
let buyers: Trader[];
let provider: Trader;

const logs = () =>
  [...apis.map((a) => [a.name, a.child] as const), ...workers.map((w, i) => [`worker${i}`, w] as const)]
    .map(([name, c]) => `--- ${name}:\n${c.output().slice(-3000)}`)
    .join('\n');

beforeAll(async () => {
  db = new pg.Client({ connectionString: TEST_DATABASE_URL, application_name: 'multi-process-test' });
  await db.connect();
  // The first process migrates (if needed); the others start on a migrated database, together.
  const first = await startApi('api-A');
  const [second, ...started] = await Promise.all([startApi('api-B'), startWorker(), startWorker()]);
  apis = [first, second];
  workers = started;

  const [A, B] = apis;
  const admin = (api: Api, path: string, body: unknown) => call(api, 'POST', path, BOOTSTRAP_ADMIN_KEY, body);
  const modelClassId = `mp${randomUUID().slice(0, 8)}-8b`;
  await expectStatus(admin(A, '/v1/admin/model-classes', { id: modelClassId, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2000 }), 201);
  symbol = (await expectStatus(admin(B, '/v1/admin/instruments', { modelClassId, kind: 'spot' }), 201)).body.symbol;

  const participant = async (api: Api, side: 'buy' | 'sell', n: number): Promise<Trader> => {
    const role = side === 'buy' ? 'buyer' : 'provider';
    const created = await expectStatus(admin(api, '/v1/participants', { name: `multi ${role} ${n}`, roles: [role] }), 201);
    const who: Trader = { id: created.body.participant.id, key: created.body.apiKey.key, side };
    await expectStatus(admin(api, '/v1/admin/deposits', { participantId: who.id, amount: DEPOSIT_USD }), 201);
    if (side === 'sell') {
      const publicKey = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
      const node = { modelClassId, baseUrl: 'http://127.0.0.1:9/v1', metricsUrl: 'http://127.0.0.1:9/metrics', publicKey, tokensPerSecond: 10_000_000 };
      await expectStatus(call(api, 'POST', '/v1/nodes', who.key, node), 201);
    }
    return who;
  };
  buyers = await Promise.all([0, 1, 2].map((n) => participant(apis[n % 2], 'buy', n)));
  provider = await participant(B, 'sell', 0);
}, 60_000);

afterAll(async () => {
  for (const child of [...(apis ?? []).map((a) => a.child), ...(workers ?? [])]) {
    if (child.process.exitCode === null && child.process.signalCode === null) {
      child.process.kill('SIGTERM');
      await child.exited();
    }
  }
  await db?.end();
});

/** A limit order straddling the mid: buys mid−8..mid+4 ticks, sells mid−4..mid+8. */
function randomOrder(who: Trader, clientOrderId: string): object {
  const ticks = who.side === 'buy' ? between(MID_TICKS - 8, MID_TICKS + 4) : between(MID_TICKS - 4, MID_TICKS + 8);
  return { instrument: symbol, side: who.side, type: 'limit', price: (ticks / 1000).toFixed(3), quantity: between(1, 20) * 100_000, clientOrderId };
}

const sumQuantity = (fills: Array<{ quantity: number }>) => fills.reduce((s, f) => s + f.quantity, 0);
const bookOf = async (api: Api) => (await expectStatus(call(api, 'GET', `/v1/markets/${symbol}/book?depth=1000`), 200, `book on ${api.name}`)).body;

/** The book's owner, as PostgreSQL sees it, and the live API process whose log says it serves the book. */
async function owner(): Promise<{ api: Api; processId: string }> {
  const live = apis.filter((a) => a.child.process.exitCode === null && a.child.process.signalCode === null);
  const { rows } = await db.query(
    `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.classid = ((hashtext('tokex:book:' || $1)::bigint >> 32) & 4294967295)::oid
        AND l.objid = (hashtext('tokex:book:' || $1)::bigint & 4294967295)::oid`,
    [symbol],
  );
  expect(rows).toHaveLength(1);
  expect(rows[0].application_name).toMatch(/^tokex:books:/);
  const serving = live.filter((a) => a.child.output().split('\n').some((l) => l.includes('serving the book') && l.includes(symbol)));
  expect(serving.map((a) => a.name)).toHaveLength(1);
  return { api: serving[0], processId: rows[0].application_name.slice('tokex:books:'.length) };
}

describe('two API processes and two workers, one book', () => {
  test('orders sent round robin to both API processes land in one book; both streams show the same deltas', async () => {
    const [A, B] = apis;
    // A WebSocket client on each process, subscribed to the book before any order.
    const streams = await Promise.all(apis.map((api) => StreamClient.open(api.url)));
    const snapshots: BookFrame[] = [];
    for (const [i, stream] of streams.entries()) {
      stream.send({ op: 'subscribe', channel: 'book', instrument: symbol, id: i });
      snapshots.push((await stream.next(`a snapshot on ${apis[i].name}`, (m) => m.type === 'snapshot' && m.instrument === symbol, 0, 15_000)) as BookFrame);
    }
    expect(snapshots[0]).toMatchObject({ seq: snapshots[1].seq, bids: [], asks: [] });

    // 200 orders in bursts of 10 concurrent, alternating between the processes.
    const traders = [...buyers, provider, provider];
    const answers: Array<{ api: Api; body: object; answer: Answer }> = [];
    for (let burst = 0; burst < 20; burst++) {
      const sent = Array.from({ length: 10 }, (_, i) => {
        const n = burst * 10 + i;
        const api = apis[n % 2];
        const body = randomOrder(traders[n % traders.length], `t1-${n}`);
        return call(api, 'POST', '/v1/orders', traders[n % traders.length].key, body).then((answer) => answers.push({ api, body, answer }));
      });
      await Promise.all(sent);
    }
    const refused = answers.filter((a) => a.answer.status !== 201).map((a) => `${a.api.name} ${JSON.stringify(a.body)} -> ${a.answer.status} ${JSON.stringify(a.answer.body)}`);
    if (refused.length > 0) throw new Error(`not every order was acknowledged:\n${refused.slice(0, 10).join('\n')}\n${logs()}`);
    expect(answers).toHaveLength(200);
    for (const { answer } of answers) expect(answer.body.filledQuantity).toBeGreaterThanOrEqual(sumQuantity(answer.body.fills));
    const ids = new Set(answers.map((a) => a.answer.body.id));
    expect(ids.size).toBe(200);
    // Trading happened, through both processes.
    expect(answers.filter((a) => a.api === A && a.answer.body.fills.length > 0).length).toBeGreaterThan(0);
    expect(answers.filter((a) => a.api === B && a.answer.body.fills.length > 0).length).toBeGreaterThan(0);

    // One book, one owner: every fill pairs a buy and a sell of these orders.
    await owner();
    const { rows: sides } = await db.query(
      `SELECT side, count(*)::int AS orders, sum(filled_lots)::text AS filled FROM orders WHERE instrument = $1 GROUP BY side ORDER BY side`,
      [symbol],
    );
    const [{ total: fillLots, n: fillCount }] = (await db.query(`SELECT coalesce(sum(quantity_lots), 0)::text AS total, count(*)::int AS n FROM fills WHERE instrument = $1`, [symbol])).rows;
    expect(fillCount).toBeGreaterThan(0);
    expect(sides.map((r) => r.side)).toEqual(['buy', 'sell']);
    expect(sides[0].orders + sides[1].orders).toBe(200);
    expect(sides[0].filled).toBe(fillLots);
    expect(sides[1].filled).toBe(fillLots);
    // The taker's side of every fill is in some answer: the answers' fills add up to all fills.
    expect(answers.reduce((s, a) => s + sumQuantity(a.answer.body.fills), 0)).toBe(Number(fillLots) * 1000);

    // Both processes serve the same book.
    const [restA, restB] = await Promise.all(apis.map(bookOf));
    expect(restB).toEqual(restA);
    expect(restA.sequence).toBeGreaterThan(snapshots[0].seq);

    // Each stream reaches the REST book's sequence with an unbroken chain of identical deltas.
    const chains = [];
    for (const [i, stream] of streams.entries()) {
      await stream.next(`the delta of sequence ${restA.sequence} on ${apis[i].name}`, (m) => m.type === 'delta' && m.seq === restA.sequence, 0, 15_000);
      const deltas = stream.received.filter((m) => m.type === 'delta' && m.instrument === symbol) as BookFrame[];
      deltas.forEach((d, k) => expect(d.previousSeq).toBe(k === 0 ? snapshots[i].seq : deltas[k - 1].seq));
      expect(deltas.at(-1)!.seq).toBe(restA.sequence);
      const replica = new BookReplica({ sequence: snapshots[i].seq, bids: snapshots[i].bids, asks: snapshots[i].asks });
      expect(deltas.map((d) => replica.apply(d)).filter((o) => o !== 'applied')).toEqual([]);
      expect(replica.view()).toEqual({ sequence: restA.sequence, bids: restA.bids, asks: restA.asks });
      chains.push(deltas.map((d) => ({ seq: d.seq, previousSeq: d.previousSeq, bids: d.bids, asks: d.asks })));
    }
    expect(chains[1]).toEqual(chains[0]);
    for (const stream of streams) stream.close();
  }, 45_000);

  test('SIGKILL of the owner under load: the survivor takes the book, and every acknowledged order is durable', async () => {
    const { api: dead } = await owner();
    const survivor = apis.find((a) => a !== dead)!;
    // A resting sell far above the load's prices, acknowledged before the kill, to be taken after.
    const resting = await expectStatus(
      call(apis[0], 'POST', '/v1/orders', provider.key, { instrument: symbol, side: 'sell', type: 'limit', price: '0.900', quantity: 1_000_000, clientOrderId: 'resting' }),
      201,
    );
    expect(resting.body.status).toBe('open');

    interface Sent {
      readonly who: Trader;
      readonly api: Api;
      readonly at: number;
      answer?: Answer;
      error?: string;
    }
    const sent: Sent[] = [];
    let killedAt: number | undefined;
    let recoveredAt: number | undefined;
    let stop = false;
    const traders = [...buyers, provider];
    // Four clients, each sending one order after another, alternating processes while both live.
    const client = async (c: number) => {
      for (let n = 0; !stop; n++) {
        const api = killedAt === undefined ? apis[(c + n) % 2] : survivor;
        const who = traders[(c + n) % traders.length];
        const record: Sent = { who, api, at: Date.now() };
        sent.push(record);
        try {
          record.answer = await call(api, 'POST', '/v1/orders', who.key, randomOrder(who, `t2-${c}-${n}`));
          if (record.answer.status === 201 && killedAt !== undefined && record.at > killedAt && api === survivor) recoveredAt ??= Date.now();
        } catch (error) {
          record.error = String(error);
        }
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(client));
    const acked = () => sent.filter((s) => s.answer?.status === 201).length;
    try {
      // Kill under load: once orders flow through both processes.
      await waitFor('40 acknowledged orders before the kill', async () => (acked() >= 40 ? true : undefined), 20_000);
      dead.child.process.kill('SIGKILL');
      killedAt = Date.now();
      expect(await dead.child.exited()).toBeNull();
      // The survivor accepts orders again within a few seconds, and keeps accepting them.
      await waitFor('the survivor to acknowledge an order sent after the kill', async () => recoveredAt, 10_000);
      const ackedAtRecovery = acked();
      await waitFor('30 more acknowledged orders after the handover', async () => (acked() >= ackedAtRecovery + 30 ? true : undefined), 15_000);
    } finally {
      stop = true;
      await load;
    }
    const recoveryMs = recoveredAt! - killedAt!;
    expect(recoveryMs).toBeLessThan(5_000);

    const statuses = new Map<string, number>();
    for (const s of sent) statuses.set(String(s.answer?.status ?? 'no answer'), (statuses.get(String(s.answer?.status ?? 'no answer')) ?? 0) + 1);
    // Only 201, 503 (the handover: book changing hands, outcome unknown) or a lost connection to the killed process.
    const unexpected = sent.filter((s) => (s.answer ? ![201, 503].includes(s.answer.status) : s.api !== dead || s.at > killedAt!));
    if (unexpected.length > 0) {
      throw new Error(
        `unexpected answers (${JSON.stringify(Object.fromEntries(statuses))}):\n` +
          unexpected.slice(0, 5).map((s) => `${s.api.name}: ${s.answer ? `${s.answer.status} ${JSON.stringify(s.answer.body)}` : s.error}`).join('\n') +
          `\n${logs()}`,
      );
    }
    console.log(`multi-process handover: ${JSON.stringify(Object.fromEntries(statuses))}, survivor accepted again ${recoveryMs} ms after the kill`);

    // The survivor now owns the book, per PostgreSQL and its log.
    expect((await owner()).api).toBe(survivor);

    // Every acknowledged order, by either process, is durable with its fills, as the survivor reads it.
    const acks = sent.filter((s) => s.answer?.status === 201);
    const problems: string[] = [];
    for (let i = 0; i < acks.length; i += 10) {
      await Promise.all(
        acks.slice(i, i + 10).map(async (s) => {
          const told = s.answer!.body;
          const read = await call(survivor, 'GET', `/v1/orders/${told.id}`, s.who.key);
          if (read.status !== 200) return problems.push(`order ${told.id} acknowledged by ${s.api.name}: GET on ${survivor.name} -> ${read.status} ${JSON.stringify(read.body)}`);
          const order = read.body;
          if (order.clientOrderId !== told.clientOrderId || order.price !== told.price || order.quantity !== told.quantity) problems.push(`order ${told.id} differs: told ${JSON.stringify(told)}, read ${JSON.stringify(order)}`);
          if (told.status !== 'open' && order.status !== told.status) problems.push(`order ${told.id} was answered ${told.status}, reads ${order.status}`);
          if (order.filledQuantity < told.filledQuantity) problems.push(`order ${told.id} was answered ${told.filledQuantity} filled, reads ${order.filledQuantity}`);
          if (order.filledQuantity !== sumQuantity(order.fills)) problems.push(`order ${told.id} reads ${order.filledQuantity} filled, its fills ${sumQuantity(order.fills)}`);
          const fills = new Map(order.fills.map((f: any) => [f.id, f]));
          for (const f of told.fills) {
            const durable: any = fills.get(f.id);
            if (!durable || durable.quantity !== f.quantity || durable.price !== f.price) problems.push(`fill ${f.id} of order ${told.id}: told ${JSON.stringify(f)}, reads ${JSON.stringify(durable)}`);
          }
          return undefined;
        }),
      );
    }
    expect(problems).toEqual([]);
    // And PostgreSQL agrees with itself: both sides filled as much as all fills.
    const { rows } = await db.query(
      `SELECT (SELECT sum(filled_lots) FROM orders WHERE instrument = $1 AND side = 'buy')::text AS buys,
              (SELECT sum(filled_lots) FROM orders WHERE instrument = $1 AND side = 'sell')::text AS sells,
              (SELECT sum(quantity_lots) FROM fills WHERE instrument = $1)::text AS fills`,
      [symbol],
    );
    expect(rows[0].buys).toBe(rows[0].fills);
    expect(rows[0].sells).toBe(rows[0].fills);

    // The survivor rebuilt the book from PostgreSQL: a buy at 0.900 for everything on offer takes
    // every resting ask, down to the sell resting at 0.900 since before the kill.
    const before = await bookOf(survivor);
    expect(before.asks.at(-1)).toEqual({ price: '0.900', quantity: 1_000_000, orders: 1 });
    const onOffer = before.asks.reduce((q: number, level: { quantity: number }) => q + level.quantity, 0);
    const take = await expectStatus(
      call(survivor, 'POST', '/v1/orders', buyers[0].key, { instrument: symbol, side: 'buy', type: 'limit', price: '0.900', quantity: onOffer, timeInForce: 'IOC' }),
      201,
    );
    expect(take.body).toMatchObject({ status: 'filled', filledQuantity: onOffer });
    expect(take.body.fills.at(-1)).toMatchObject({ price: '0.900', quantity: 1_000_000 });
    const taken = await expectStatus(call(survivor, 'GET', `/v1/orders/${resting.body.id}`, provider.key), 200);
    expect(taken.body).toMatchObject({ status: 'filled', filledQuantity: 1_000_000 });
    expect(taken.body.fills.map((f: any) => f.id)).toEqual([take.body.fills.at(-1).id]);
    expect((await bookOf(survivor)).asks).toEqual([]);
  }, 50_000);
});
