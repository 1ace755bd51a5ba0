import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { CounterScrapeJob } from '../../src/metering/counter-scrapes.js';
import { type AuditPlan, NodeAuditJob } from '../../src/metering/node-audits.js';
import { Clock } from '../../src/platform/clock/clock.js';
import { upcomingWeek } from '../support/forward-fixtures.js';
import { SettlementService } from '../../src/settlement/settlement.service.js';
import { type NodeAgentProcess, spawnNodeAgent } from '../support/child-service.js';
import { fundedBuyer } from '../support/market-fixtures.js';
import { startStubModelServer, type StubBehaviour, type StubModelServer } from '../support/stub-model-server.js';
import { balancesOf, bearer, createParticipant, deposit, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Metering end to end, every piece a real server on loopback: tokex (with its workers), a stub
 * model server with real token counts, and the tokex node agent as a child process in front of
 * it. A buyer uses the official `openai` client with its delivery key against the agent.
 */
let t: TestApp;
let tokexUrl: string;
let modelClassId: string;
let symbol: string;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  t = await startTestApp(
    {
      METERING_SCRAPE_INTERVAL_MS: '200',
      METERING_AUDIT_INTERVAL_MS: '3600000', // audits are sent by the tests themselves
      METERING_AUDIT_EVERY_REQUESTS: '0',
      SETTLEMENT_PAYOUT_INTERVAL_MS: '100',
      NODE_PROBE_INTERVAL_MS: '3600000',
      LEDGER_CHECK_INTERVAL_MS: '3600000',
      OUTBOX_SWEEP_INTERVAL_MS: '100',
    },
    'all',
  );
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  tokexUrl = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
  modelClassId = `stk${randomUUID().slice(0, 8)}-8b`;
  await t.http
    .post('/v1/admin/model-classes')
    .set(bearer(t.adminKey))
    .send({ id: modelClassId, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 1, maxTtftMs: 10_000 })
    .expect(201);
  ({ symbol } = (await t.http.post('/v1/admin/instruments').set(bearer(t.adminKey)).send({ modelClassId, kind: 'spot' }).expect(201)).body);
}, 60_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await t.close();
});

interface Stack {
  readonly buyer: TestParticipant;
  readonly provider: TestParticipant;
  readonly stub: StubModelServer;
  readonly agent: NodeAgentProcess;
  readonly nodeId: string;
  readonly deliveryId: string;
  readonly client: OpenAI;
  readonly spoolDir: string;
}

/** Buys 1,000,000 tokens of spot from the provider; returns the delivery. */
async function buySpot(buyer: TestParticipant, provider: TestParticipant): Promise<string> {
  await t.http.post('/v1/orders').set(bearer(buyer.key)).send({ instrument: symbol, side: 'buy', type: 'limit', price: '0.500', quantity: 1_000_000 }).expect(201);
  await t.http.post('/v1/orders').set(bearer(provider.key)).send({ instrument: symbol, side: 'sell', type: 'limit', price: '0.500', quantity: 1_000_000 }).expect(201);
  return (await t.http.get('/v1/deliveries').set(bearer(buyer.key)).expect(200)).body.items[0].id;
}

/** A provider with a stub server behind a node agent, a buyer who bought tokens from it (spot, unless `buy` says otherwise), and the buyer's client. */
async function stack(
  behaviour: Partial<StubBehaviour> = {},
  { wrongAgentKey = false, buy = buySpot, ttftMs }: { wrongAgentKey?: boolean; buy?: (buyer: TestParticipant, provider: TestParticipant) => Promise<string>; ttftMs?: number } = {},
): Promise<Stack> {
  const stub = await startStubModelServer({ tokenizer: 'llama3', model: modelClassId, behaviour, ttftMs });
  cleanups.push(() => stub.close());
  const provider = await createParticipant(t, ['provider']);
  await deposit(t, provider.id, '100');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spoolDir = await mkdtemp(join(tmpdir(), 'tokex-agent-'));
  cleanups.push(() => rm(spoolDir, { recursive: true, force: true }));
  // The node is registered first (its id goes to the agent), then pointed at the agent's URL.
  const node = await t.http
    .post('/v1/nodes')
    .set(bearer(provider.key))
    .send({
      modelClassId,
      baseUrl: 'http://127.0.0.1:9/v1',
      metricsUrl: `${stub.url}/metrics`,
      publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
      tokensPerSecond: 1_000_000,
    })
    .expect(201);
  const agentKey = wrongAgentKey ? generateKeyPairSync('ed25519').privateKey : privateKey;
  const agent = await spawnNodeAgent({
    TOKEX_URL: tokexUrl,
    NODE_ID: node.body.id,
    PROVIDER_ID: provider.id,
    MODEL_CLASS: modelClassId,
    NODE_PRIVATE_KEY: agentKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    UPSTREAM_URL: stub.baseUrl,
    SPOOL_DIR: spoolDir,
    FLUSH_INTERVAL_MS: '200',
    KEYS_REFRESH_MS: '1000',
    PORT: '0',
    HOST: '127.0.0.1',
  });
  cleanups.push(() => agent.stop());
  await t.dataSource.query(`UPDATE inference_nodes SET base_url = $2 WHERE id = $1`, [node.body.id, `${agent.url}/v1`]);

  const buyer = await fundedBuyer(t, '100');
  const deliveryId = await buy(buyer, provider);
  const key = (await t.http.post(`/v1/deliveries/${deliveryId}/keys`).set(bearer(buyer.key)).send({}).expect(201)).body;
  const client = new OpenAI({ apiKey: key.token, baseURL: `${agent.url}/v1`, maxRetries: 0 });
  // Reconciliation compares with a counter sample taken before the requests: wait for the first.
  await waitFor('a first scrape of the node counters', async () => {
    const [sample] = await t.dataSource.query(`SELECT 1 FROM node_counter_samples WHERE node_id = $1 LIMIT 1`, [node.body.id]);
    return sample ? true : undefined;
  });
  return { buyer, provider, stub, agent, nodeId: node.body.id, deliveryId, client, spoolDir };
}

/** Some chat completions, streamed and not; returns the true completion tokens (a re-count of what the buyer received). */
async function chat(s: Stack, requests = 4): Promise<number> {
  for (let i = 0; i < requests; i++) {
    const messages = [{ role: 'user' as const, content: `Tell me about capacity number ${i} ${randomUUID()}` }];
    if (i % 2 === 0) {
      await s.client.chat.completions.create({ model: modelClassId, messages, max_tokens: 20 });
    } else {
      const stream = await s.client.chat.completions.create({ model: modelClassId, messages, max_tokens: 20, stream: true });
      for await (const chunk of stream) expect(chunk.usage ?? null).toBeNull(); // the buyer did not ask for usage
    }
  }
  return s.stub.requests.reduce((sum, r) => sum + r.generated.completionTokens, 0);
}

/** Audits the stack's node once, through `plan`. */
const audit = (s: Stack, plan: AuditPlan = { endpoint: 'completions', stream: false }) =>
  t.app.get(NodeAuditJob).audit({ id: s.nodeId, provider_id: s.provider.id, model_class_id: modelClassId, base_url: `${s.agent.url}/v1`, tokenizer: 'llama3' }, plan);

const records = (nodeId: string) =>
  t.dataSource.query(`SELECT request_id, verdict, completion_tokens, billable_tokens::int AS billable FROM usage_records WHERE node_id = $1 ORDER BY started_at`, [nodeId]);
const disputes = (deliveryId: string) => t.dataSource.query(`SELECT kind, tokens::int AS tokens FROM disputes WHERE delivery_id = $1 ORDER BY created_at`, [deliveryId]);
const verifiedCount = async (nodeId: string, n: number) =>
  waitFor(`${n} verified records of node ${nodeId}`, async () => {
    const rows = await records(nodeId);
    return rows.length >= n && rows.every((r: { verdict: string | null }) => r.verdict !== null) ? rows : undefined;
  }, 30_000);

describe('metering with the stub server and the node agent as real servers', () => {
  test('an honest node: the buyer is served through the agent, usage is verified and paid, and nothing is disputed', async () => {
    const s = await stack();
    const truth = await chat(s, 4);
    const rows = await verifiedCount(s.nodeId, 4);
    expect(rows.map((r: { verdict: string }) => r.verdict)).toEqual(['verified', 'verified', 'verified', 'verified']);
    expect(rows.reduce((sum: number, r: { completion_tokens: number }) => sum + r.completion_tokens, 0)).toBe(truth);
    // Audits through the agent, by every API a buyer uses: the node's answers agree with tokex's own re-count.
    for (const plan of [{ endpoint: 'completions', stream: false }, { endpoint: 'chat', stream: false }, { endpoint: 'chat', stream: true }, { endpoint: 'completions', stream: true }] as const) {
      expect(await audit(s, plan)).toMatchObject({ ok: true, error: null });
    }
    expect(s.stub.requests.slice(-4).map((r) => [r.endpoint, r.stream, r.authorization])).toEqual([
      ['/v1/completions', false, undefined],
      ['/v1/chat/completions', false, undefined],
      ['/v1/chat/completions', true, undefined],
      ['/v1/completions', true, undefined],
    ]);
    const audited = await verifiedCount(s.nodeId, 8);
    expect(audited.slice(4).map((r: { verdict: string; billable: number }) => [r.verdict, r.billable])).toEqual(Array(4).fill(['audit', 0]));
    await waitFor('the payout', async () => ((await balancesOf(t, s.provider)).available !== '99.950000' ? true : undefined));
    expect(await disputes(s.deliveryId)).toEqual([]);
    // The buyer's delivery key stops at the agent: the inference server never sees it.
    expect(s.stub.requests.every((r) => r.authorization === undefined)).toBe(true);
  }, 60_000);

  test('a node inflating its completion counts by 10 % is caught by its own counters and by the audit re-count, and paid nothing more', async () => {
    const s = await stack({ inflateCompletionPct: 10 });
    // 4 requests of 20 tokens reported as 22: 8 tokens over. A scrape after them, then the audit:
    // its batch moves the reconciliation past the four, however the agent cut their batches.
    await chat(s, 4);
    await verifiedCount(s.nodeId, 4);
    await t.app.get(CounterScrapeJob).handle();
    // The audit's answer claims 10 % more than its text re-counts to.
    expect(await audit(s, { endpoint: 'chat', stream: false })).toMatchObject({ ok: true });
    expect((await disputes(s.deliveryId)).map((d: { kind: string }) => d.kind)).toContain('audit_mismatch');
    await verifiedCount(s.nodeId, 5);
    expect((await disputes(s.deliveryId)).map((d: { kind: string }) => d.kind)).toContain('counter_mismatch');
    // Caught, whatever it reports now is held for an admin: nothing more is paid.
    const deliveredNow = async () => (await t.dataSource.query(`SELECT delivered_tokens::int AS n FROM deliveries WHERE id = $1`, [s.deliveryId]))[0].n;
    const delivered = await deliveredNow();
    await chat(s, 2);
    const rows = await verifiedCount(s.nodeId, 7);
    expect(rows.slice(4).map((r: { verdict: string }) => r.verdict).sort()).toEqual(['audit', 'disputed', 'disputed']);
    expect(await deliveredNow()).toBe(delivered);
  }, 60_000);

  test('a node reporting a longer tokenization of the same text is caught by the re-count', async () => {
    const s = await stack({ longerTokenization: true });
    expect(await audit(s, { endpoint: 'completions', stream: true })).toMatchObject({ ok: true });
    await verifiedCount(s.nodeId, 1);
    expect((await disputes(s.deliveryId)).map((d: { kind: string }) => d.kind)).toContain('audit_mismatch');
  }, 60_000);

  test('a node is audited once at a time: a second audit while one is in flight is not sent', async () => {
    const s = await stack({}, { ttftMs: 1_000 }); // each answer takes a second
    const [first, second] = await Promise.all([audit(s), audit(s)]);
    expect([first, second].map((a) => a.error).sort()).toEqual(['another audit of this node is in flight', null]);
    expect(s.stub.requests).toHaveLength(1);
    const rows = await t.dataSource.query(`SELECT ok FROM node_audits WHERE node_id = $1`, [s.nodeId]);
    expect(rows).toEqual([{ ok: true }]);
  }, 60_000);

  test('a node that fails audits is in breach by them, though its health probes would pass', async () => {
    const s = await stack({ failRequests: true });
    for (let i = 0; i < 3; i++) expect(await audit(s, { endpoint: i % 2 ? 'chat' : 'completions', stream: i === 2 })).toMatchObject({ ok: false, error: expect.stringMatching(/^node answered 5\d\d$/) });
    const detail = (await t.http.get(`/v1/admin/deliveries/${s.deliveryId}`).set(bearer(t.adminKey)).expect(200)).body;
    expect(detail.evidence.audits).toEqual({ total: 3, failed: 3, breach: true });
    expect(detail.evidence.breach).toBe(true);
  }, 60_000);

  test('a node replaying an old request id is paid for it once', async () => {
    const s = await stack();
    await chat(s, 2);
    await verifiedCount(s.nodeId, 2);
    s.stub.setBehaviour({ replay: true });
    await chat(s, 2);
    // The agent reports the replayed answers under the old id: tokex lists them as duplicates.
    const duplicates = await waitFor('a batch with duplicates', async () => {
      const rows: Array<{ answer: { duplicates: string[] } }> = await t.dataSource.query(`SELECT answer FROM usage_batches WHERE node_id = $1`, [s.nodeId]);
      const dupes = rows.flatMap((r) => r.answer.duplicates ?? []);
      return dupes.length > 0 ? dupes : undefined;
    }, 30_000);
    const ids = (await records(s.nodeId)).map((r: { request_id: string }) => r.request_id);
    expect(ids).toHaveLength(2);
    expect(ids).toContain(duplicates[0]);
  }, 60_000);

  test('a node whose counters show less than it reports is caught by reconciliation', async () => {
    const s = await stack({ underReportCountersPct: 30 });
    await chat(s, 4);
    await verifiedCount(s.nodeId, 4);
    // A scrape after the four, and one more request: its batch moves the reconciliation past them.
    await t.app.get(CounterScrapeJob).handle();
    await chat(s, 1);
    await verifiedCount(s.nodeId, 5);
    expect((await disputes(s.deliveryId)).map((d: { kind: string }) => d.kind)).toContain('counter_mismatch');
  }, 60_000);

  test('an agent signing with the wrong key: tokex stores nothing, and the agent sets the batch aside', async () => {
    const s = await stack({}, { wrongAgentKey: true });
    await chat(s, 2);
    await waitFor('the rejected batch in the spool', async () => {
      const files = await readdir(join(s.spoolDir, 'rejected')).catch(() => []);
      return files.length > 0 ? files : undefined;
    }, 30_000);
    expect(await records(s.nodeId)).toEqual([]);
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM usage_batches WHERE node_id = $1`, [s.nodeId]);
    expect(n).toBe(0);
  }, 60_000);

  test('an agent killed and restarted on its spool loses nothing and sends nothing twice', async () => {
    const s = await stack();
    await chat(s, 2);
    await verifiedCount(s.nodeId, 2);
    // The agent is killed and started again on the same spool: nothing is sent twice.
    await s.agent.kill();
    const again = await spawnNodeAgent({ ...s.agent.env, PORT: '0' });
    cleanups.push(() => again.stop());
    const client = new OpenAI({ apiKey: (s.client as unknown as { apiKey: string }).apiKey, baseURL: `${again.url}/v1`, maxRetries: 0 });
    await client.chat.completions.create({ model: modelClassId, messages: [{ role: 'user', content: 'after the restart' }], max_tokens: 10 });
    const rows = await verifiedCount(s.nodeId, 3);
    expect(rows).toHaveLength(3);
    await t.app.get(SettlementService).payOutVerifiedUsage();
  }, 60_000);

  test('a forward: hedged next week, expired into daily deliveries, consumed with the openai client through the agent and paid', async () => {
    // The next tradable week, 7,000,000 tokens at 0.500; expiry runs on the exchange's clock, moved
    // past the last trade (00:00 UTC the day before the week). Each day's delivery is 1,000,000 tokens.
    const week = upcomingWeek();
    const forward = (await t.http.post('/v1/admin/instruments').set(bearer(t.adminKey)).send({ modelClassId, kind: 'forward', deliveryPeriod: week.period }).expect(201)).body.symbol;
    const buyForward = async (buyer: TestParticipant, provider: TestParticipant): Promise<string> => {
      await t.http.post('/v1/orders').set(bearer(provider.key)).send({ instrument: forward, side: 'sell', type: 'limit', price: '0.500', quantity: 7_000_000 }).expect(201);
      await t.http.post('/v1/orders').set(bearer(buyer.key)).send({ instrument: forward, side: 'buy', type: 'limit', price: '0.500', quantity: 7_000_000 }).expect(201);
      const clock = t.app.get(Clock);
      const systemNow = clock.now.bind(clock);
      clock.now = () => new Date(week.lastTradeAt.getTime() + 1_000);
      try {
        await t.http.post(`/v1/admin/forwards/${forward}/expire`).set(bearer(t.adminKey)).expect(200);
      } finally {
        clock.now = systemNow;
      }
      const days = (await t.http.get('/v1/deliveries').set(bearer(buyer.key)).expect(200)).body.items;
      expect(days).toHaveLength(7);
      // The first delivery day arrives: its window is moved to now, as the calendar would bring it.
      const first = days.find((d: { windowStart: string }) => d.windowStart === `${week.days[0]}T00:00:00.000Z`);
      await t.dataSource.query(`UPDATE deliveries SET window_start = now() - interval '1 minute', window_end = now() + interval '1 hour' WHERE id = $1`, [first.id]);
      return first.id;
    };
    const s = await stack({}, { buy: buyForward });
    const truth = await chat(s, 2);
    const rows = await verifiedCount(s.nodeId, 2);
    expect(rows.map((r: { verdict: string }) => r.verdict)).toEqual(['verified', 'verified']);
    await waitFor('the payout of the forward delivery', async () => {
      const [d] = await t.dataSource.query(`SELECT paid_tokens::int AS paid FROM deliveries WHERE id = $1`, [s.deliveryId]);
      return d.paid > 0 ? d.paid : undefined;
    });
    const [delivery] = await t.dataSource.query(`SELECT paid_tokens::int AS paid, delivered_tokens::int AS delivered FROM deliveries WHERE id = $1`, [s.deliveryId]);
    expect(delivery.delivered).toBeGreaterThanOrEqual(truth);
    expect(await disputes(s.deliveryId)).toEqual([]);
  }, 60_000);
});

