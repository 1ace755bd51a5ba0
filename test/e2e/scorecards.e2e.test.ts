import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { UsageRecord } from '../../src/protocol/usage-batch.js';
import { ScorecardFoldJob } from '../../src/scorecards/scorecard-fold.js';
import { SettlementService } from '../../src/settlement/settlement.service.js';
import { fundedBuyer, listSpotInstrument } from '../support/market-fixtures.js';
import { type MeteredNode, postUsageBatch, verifyUsageBatch } from '../support/metering-fixtures.js';
import { bearer, createParticipant, deposit, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';

// Issue 16's scenario, from signed usage batches to the public routes: three providers sell the
// same model class (SLA: 20 tokens/s, 2 s to the first token) at 0.500 USD/MTok. One is honest and
// fast, one is slow (its first tokens come after 3 s: out of the SLA), one inflates its counts
// (the buyer counts 100 completion tokens where the node reports 150; an admin upholds the
// disputes). Their usage is verified by the real verification job, folded by the scorecards' job
// (driven here, in a transaction, as a worker runs it), and read without a key.
let t: TestApp;
let modelClassId: string;
let symbol: string;
// The job's handler, in a transaction, as a worker runs it.
const fold = () => t.dataSource.transaction((manager) => t.app.get(ScorecardFoldJob).handle({ reason: 'test' }, { jobId: 'test', attempt: 1, manager }));
const suffix = randomUUID().slice(0, 8);
const names = { honest: `Honest ${suffix}`, slow: `Slow ${suffix}`, inflater: `Inflater ${suffix}` };

interface Seller {
  readonly provider: TestParticipant;
  readonly buyer: TestParticipant;
  readonly node: MeteredNode;
  readonly deliveryId: string;
  readonly keyId: string;
  readonly windowStart: number;
  readonly modelClassId: string;
}

/** A provider named `name` with a node, and a buyer that bought 1,000,000 tokens from it at 0.500. */
async function seller(name: string, market = { symbol, modelClassId }): Promise<Seller> {
  const { symbol, modelClassId } = market;
  const buyer = await fundedBuyer(t, '100');
  const provider = await createParticipant(t, ['provider'], name);
  await deposit(t, provider.id, '100');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const node = await t.http
    .post('/v1/nodes')
    .set(bearer(provider.key))
    .send({ modelClassId, baseUrl: 'http://127.0.0.1:9/v1', metricsUrl: 'http://127.0.0.1:9/metrics', publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'), tokensPerSecond: 100_000 })
    .expect(201);
  await t.http.post('/v1/orders').set(bearer(buyer.key)).send({ instrument: symbol, side: 'buy', type: 'limit', price: '0.500', quantity: 1_000_000 }).expect(201);
  await t.http.post('/v1/orders').set(bearer(provider.key)).send({ instrument: symbol, side: 'sell', type: 'limit', price: '0.500', quantity: 1_000_000 }).expect(201);
  const [d] = (await t.http.get('/v1/deliveries').set(bearer(buyer.key)).expect(200)).body.items;
  // The window opened a minute ago, so the requests below (its first seconds) have finished before
  // anything is read: a request finishing after the read's instant can sit in the next 5-minute
  // bucket, outside every window (core/windows.ts), and the figures would depend on the clock.
  const [[{ window_start }]] = await t.dataSource.query(
    `UPDATE deliveries SET window_start = window_start - interval '1 minute' WHERE id = $1 RETURNING window_start`,
    [d.id],
  );
  const key = await t.http.post(`/v1/deliveries/${d.id}/keys`).set(bearer(buyer.key)).send({}).expect(201);
  return { provider, buyer, node: { id: node.body.id, key: privateKey }, deliveryId: d.id, keyId: key.body.id, windowStart: window_start.getTime(), modelClassId };
}

/** Request i of a seller: 400 prompt + 100 completion tokens, inside the delivery window. */
function request(s: Seller, i: number, shape: { ttftMs: number; durationMs: number; completionTokens?: number }): UsageRecord {
  const started = s.windowStart + 1_000 + i * 10;
  return {
    requestId: `chatcmpl-${randomUUID()}`,
    deliveryId: s.deliveryId,
    keyId: s.keyId,
    model: s.modelClassId,
    promptTokens: 400,
    completionTokens: shape.completionTokens ?? 100,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(started + shape.durationMs).toISOString(),
    ttftMs: shape.ttftMs,
    status: 'ok',
    stream: true,
  };
}

async function postAndVerify(s: Seller, records: UsageRecord[]): Promise<void> {
  const batchId = randomUUID();
  await postUsageBatch(t, s.node, records, batchId).expect(202);
  await verifyUsageBatch(t, s.node, batchId);
}

let honest: Seller;
let slow: Seller;
let inflater: Seller;

beforeAll(async () => {
  t = await startTestApp();
  ({ symbol, modelClassId } = await listSpotInstrument(t, 'sc', { spotWindowSeconds: 3_600 }));
  honest = await seller(names.honest);
  slow = await seller(names.slow);
  inflater = await seller(names.inflater);

  // Honest and fast: first token after 200 ms, 99 more tokens in 1.8 s (55 tokens/s).
  await postAndVerify(honest, Array.from({ length: 20 }, (_, i) => request(honest, i, { ttftMs: 200 + i, durationMs: 2_000 + i })));
  // Slow: the first token after 3 s, over the SLA's 2 s.
  await postAndVerify(slow, Array.from({ length: 20 }, (_, i) => request(slow, i, { ttftMs: 3_000 + i, durationMs: 5_000 + i })));
  // The inflater: fast, but 5 of its 20 requests report 150 completion tokens where the buyer counted 100.
  const inflated = Array.from({ length: 20 }, (_, i) => request(inflater, i, { ttftMs: 150, durationMs: 1_500, completionTokens: i < 5 ? 150 : 100 }));
  await t.http
    .post('/v1/metering/buyer-reports')
    .set(bearer(inflater.buyer.key))
    .send({ deliveryId: inflater.deliveryId, records: inflated.slice(0, 5).map((r) => ({ requestId: r.requestId, promptTokens: 400, completionTokens: 100 })) })
    .expect(202);
  await postAndVerify(inflater, inflated);
  // The exchange's probes of the three nodes (what the prober records): the inflater's failed once in ten.
  for (const [s, failed] of [[honest, 0], [slow, 0], [inflater, 1]] as const) {
    await t.dataSource.query(
      `INSERT INTO node_probes (node_id, provider_id, model_class_id, probed_at, ok, status_code, latency_ms)
       SELECT $1, $2, $3, now() - (g * interval '10 seconds'), g >= $4, 200, 5 FROM generate_series(0, 9) AS g`,
      [s.node.id, s.provider.id, modelClassId, failed],
    );
  }
});
afterAll(async () => {
  await t.close();
});

const league = async (window = '1h') => (await t.http.get(`/v1/scorecards?modelClass=${modelClassId}&window=${window}`).expect(200)).body;
const scorecardOf = async (name: string, window = '1h') =>
  (await t.http.get(`/v1/providers/${encodeURIComponent(name)}/scorecard?window=${window}`).expect(200)).body;

describe('the scenario: slow, inflating, honest and fast', () => {
  test('disputed usage does not count while the disputes are open; once upheld, the buyer ranks the honest node first, the slow second, the inflater last', async () => {
    await fold();
    const before = await scorecardOf(names.inflater);
    // The 5 disputed requests wait for their resolution: 15 verified requests so far.
    expect(before.modelClasses[0].scorecard).toMatchObject({ requests: 15, disputesUpheld: 0 });

    const disputes = (await t.http.get(`/v1/admin/disputes?deliveryId=${inflater.deliveryId}`).set(bearer(t.adminKey)).expect(200)).body.items;
    expect(disputes).toHaveLength(5);
    for (const d of disputes) {
      await t.http.post(`/v1/admin/disputes/${d.id}/resolve`).set(bearer(t.adminKey)).send({ resolution: 'buyer', reason: 'the buyer counted 100 completion tokens' }).expect(200);
    }
    await fold();

    const table = await league();
    expect(table.items.map((e: { provider: string }) => e.provider)).toEqual([names.honest, names.slow, names.inflater]);
    expect(table.items.map((e: { rank: number }) => e.rank)).toEqual([1, 2, 3]);
    const [h, s, i] = table.items.map((e: { scorecard: Record<string, unknown> }) => e.scorecard);
    expect(h).toMatchObject({ requests: 20, slaMisses: 0, disputesUpheld: 0, uptime: '1.0000' });
    expect(s).toMatchObject({ requests: 20, slaMisses: 20, slaMissRate: '1.000000', disputesUpheld: 0, ttftMsP50: 3_009, ttftMsP99: 3_019 });
    // Upheld: counted once resolved, with what the buyer counted (its 100 completion tokens), not the node's 150.
    expect(i).toMatchObject({ requests: 20, disputesUpheld: 5, disputeRate: '0.250000', outputTokens: 2_000, verifiedTokens: 4_000, uptime: '0.9000' });
    expect(table.market).toMatchObject({ requests: 60, disputesUpheld: 5, slaMisses: 20, verifiedTokens: 12_000 });
  });

  test('the honest provider’s figures, exactly: tokens, speed, TTFT, latency, cost at the price paid', async () => {
    const card = await scorecardOf(names.honest);
    expect(card.provider).toBe(names.honest);
    expect(card.window.window).toBe('1h');
    expect(card.modelClasses).toHaveLength(1);
    const [mc] = card.modelClasses;
    expect(mc.modelClass).toBe(modelClassId);
    // 20 requests of 100 completion + floor(400 × 2500 / 10000) = 100 prompt tokens billable.
    // Speed: 99 tokens after the first over (duration − TTFT) = 1,800 ms: 55 tokens/s for each.
    // Cost: 4,000 tokens × 0.500 USD/MTok = 0.002 USD for 2,000 output tokens: 0.001000 USD per 1,000.
    expect(mc.scorecard).toEqual({
      requests: 20,
      failedRequests: 0,
      verifiedTokens: 4_000,
      outputTokens: 2_000,
      tokensPerSecondP50: '55.000',
      ttftMsP50: 209,
      ttftMsP99: 219,
      latencyMsP99: 2_019,
      slaMisses: 0,
      slaMissRate: '0.000000',
      costPer1kOutputTokens: '0.001000',
      tokensPerSecondPerDollar: '55.000',
      probes: 10,
      uptime: '1.0000',
      deliveriesClosed: 0,
      deliveriesBreached: 0,
      breachRate: null,
      disputesUpheld: 0,
      disputeRate: '0.000000',
    });
    expect(mc.nodes).toEqual([{ nodeId: honest.node.id, scorecard: mc.scorecard }]);
  });

  test('folding again changes nothing, and a fold that fails leaves nothing behind (each record counts once)', async () => {
    const before = await league();
    await fold();
    await fold();
    expect(await league()).toEqual(before);

    // New usage, and a fold that crashes after doing its work: rolled back with its cursors and keys.
    await postAndVerify(honest, [request(honest, 100, { ttftMs: 200, durationMs: 2_000 })]);
    await expect(
      t.dataSource.transaction(async (manager) => {
        await t.app.get(ScorecardFoldJob).fold(manager);
        throw new Error('crash');
      }),
    ).rejects.toThrow('crash');
    expect(await league()).toEqual(before);
    // Two runs at once (two workers): the cursors' locks make them take turns.
    await Promise.all([fold(), fold()]);
    await fold();
    expect((await scorecardOf(names.honest)).modelClasses[0].scorecard.requests).toBe(21);
  });

  test('the market per model class is on /metrics', async () => {
    const text = (await t.http.get('/metrics').expect(200)).text;
    expect(text).toContain(`tokex_market_requests{model_class="${modelClassId}",window="1h"} 61`);
    expect(text).toContain(`tokex_market_dispute_rate{model_class="${modelClassId}",window="30d"}`);
    expect(text).toMatch(new RegExp(`tokex_market_ttft_ms\\{model_class="${modelClassId}",window="24h",quantile="0.99"\\} \\d+`));
  });
});

describe('the routes', () => {
  test('are public, and name the field they refuse', async () => {
    const noWindow = await t.http.get(`/v1/scorecards?modelClass=${modelClassId}&window=2h`).expect(400);
    expect(noWindow.body).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('window must be one of: 1h, 24h, 30d') });
    const noClass = await t.http.get(`/v1/scorecards`).expect(400);
    expect(noClass.body.message).toContain('modelClass');
    expect((await t.http.get(`/v1/scorecards?modelClass=${modelClassId}&colour=red`).expect(400)).body.message).toContain('colour');
    expect((await t.http.get(`/v1/scorecards?modelClass=${modelClassId}&limit=0`).expect(400)).body.message).toContain('limit');
    expect((await t.http.get(`/v1/providers/${encodeURIComponent(names.honest)}/scorecard?window=7d`).expect(400)).body.message).toContain('window');
  });

  test('an unknown model class is a 404; one nobody has served yet is an empty table', async () => {
    expect((await t.http.get(`/v1/scorecards?modelClass=nothing-${suffix}`).expect(404)).body.code).toBe('MODEL_CLASS_NOT_FOUND');
    const honestIn = (modelClass: string) => t.http.get(`/v1/providers/${encodeURIComponent(names.honest)}/scorecard?modelClass=${modelClass}`);
    expect((await honestIn(`nothing-${suffix}`).expect(404)).body.code).toBe('MODEL_CLASS_NOT_FOUND');
    const { modelClassId: quiet } = await listSpotInstrument(t, 'quiet');
    const empty = (await t.http.get(`/v1/scorecards?modelClass=${quiet}`).expect(200)).body;
    expect(empty).toMatchObject({ modelClass: quiet, items: [], nextCursor: null, market: { requests: 0, verifiedTokens: 0 } });
    expect((await honestIn(quiet).expect(200)).body).toMatchObject({ provider: names.honest, modelClasses: [] });
  });

  test('an unknown provider is a 404, and so is a buyer: only providers have scorecards', async () => {
    expect((await t.http.get(`/v1/providers/nobody-${suffix}/scorecard`).expect(404)).body.code).toBe('PROVIDER_NOT_FOUND');
    const buyer = await createParticipant(t, ['buyer'], `Buyer ${suffix}`);
    expect(buyer.id).toBeDefined();
    await t.http.get(`/v1/providers/${encodeURIComponent(`Buyer ${suffix}`)}/scorecard`).expect(404);
  });

  test('a name two providers share is a 409: the public name must say whom it means', async () => {
    const shared = `Twin ${suffix}`;
    await createParticipant(t, ['provider'], shared);
    await createParticipant(t, ['provider'], shared);
    expect((await t.http.get(`/v1/providers/${encodeURIComponent(shared)}/scorecard`).expect(409)).body.code).toBe('PROVIDER_NAME_AMBIGUOUS');
  });

  test('the league table pages with limit and cursor', async () => {
    const first = (await t.http.get(`/v1/scorecards?modelClass=${modelClassId}&window=24h&limit=2`).expect(200)).body;
    expect(first.items.map((e: { rank: number }) => e.rank)).toEqual([1, 2]);
    const second = (await t.http.get(`/v1/scorecards?modelClass=${modelClassId}&window=24h&limit=2&cursor=${first.nextCursor}`).expect(200)).body;
    expect(second.items.map((e: { provider: string }) => e.provider)).toEqual([names.inflater]);
    expect(second.nextCursor).toBeNull();
    await t.http.get(`/v1/scorecards?modelClass=${modelClassId}&cursor=abc`).expect(400);
  });
});

describe('the fold', () => {
  test('a batch stored before a fold and verified after it is folded by the next: the oldest unverified batch holds the cursor back', async () => {
    const market = await listSpotInstrument(t, 'sw', { spotWindowSeconds: 3_600 });
    const name = `Waiting ${suffix}`;
    const s = await seller(name, market);
    const batchId = randomUUID();
    await postUsageBatch(t, s.node, [request(s, 0, { ttftMs: 100, durationMs: 1_000 })], batchId).expect(202);
    // Stored an hour ago and not verified since (the workers were down), older than the fold's
    // overlap; the fold's cursor as it was then, when the batch arrived.
    await t.dataSource.query(`UPDATE usage_batches SET received_at = now() - interval '1 hour' WHERE node_id = $1 AND batch_id = $2`, [s.node.id, batchId]);
    await t.dataSource.query(
      `UPDATE scorecard_cursors SET position = (SELECT floor(extract(epoch FROM received_at) * 1000)::bigint::text FROM usage_batches WHERE node_id = $1 AND batch_id = $2) WHERE source = 'batch'`,
      [s.node.id, batchId],
    );
    await fold();
    expect((await scorecardOf(name)).modelClasses).toEqual([]);
    const [{ position }] = await t.dataSource.query(`SELECT position FROM scorecard_cursors WHERE source = 'batch'`);
    const [{ received }] = await t.dataSource.query(`SELECT received_at AS received FROM usage_batches WHERE node_id = $1 AND batch_id = $2`, [s.node.id, batchId]);
    expect(Number(position)).toBeLessThanOrEqual(received.getTime());
    await verifyUsageBatch(t, s.node, batchId);
    await fold();
    expect((await scorecardOf(name)).modelClasses[0].scorecard).toMatchObject({ requests: 1, verifiedTokens: 200, ttftMsP50: 100 });
  });

  test('failures the node reported count as failed requests; records verification rejected (outside the window) do not count', async () => {
    const market = await listSpotInstrument(t, 'sf', { spotWindowSeconds: 3_600 });
    const name = `Failing ${suffix}`;
    const s = await seller(name, market);
    const ok = request(s, 0, { ttftMs: 100, durationMs: 1_000 });
    const failed = { ...request(s, 1, { ttftMs: 100, durationMs: 1_000 }), status: 'error' as const, completionTokens: 0 };
    const early = new Date(s.windowStart - 60_000).toISOString();
    const outside = { ...request(s, 2, { ttftMs: 100, durationMs: 1_000 }), startedAt: early, finishedAt: new Date(Date.parse(early) + 1_000).toISOString() };
    await postAndVerify(s, [ok, failed, outside]);
    const verdicts = await t.dataSource.query(`SELECT request_id, verdict FROM usage_records WHERE node_id = $1 ORDER BY started_at`, [s.node.id]);
    expect(verdicts.map((v: { verdict: string }) => v.verdict)).toEqual(['rejected', 'verified', 'rejected']);
    await fold();
    expect((await scorecardOf(name)).modelClasses[0].scorecard).toMatchObject({ requests: 2, failedRequests: 1, verifiedTokens: 200, ttftMsP50: 100, latencyMsP99: 1_000 });
  });

  test('a history older than a day is folded a few batches a run, each once, when the fold stops at its limit', async () => {
    const market = await listSpotInstrument(t, 'sl', { spotWindowSeconds: 3_600 });
    const name = `History ${suffix}`;
    const s = await seller(name, market);
    const batches: string[] = [];
    for (let i = 0; i < 3; i++) {
      const batchId = randomUUID();
      await postUsageBatch(t, s.node, [request(s, i, { ttftMs: 100 + i, durationMs: 1_000 })], batchId).expect(202);
      await verifyUsageBatch(t, s.node, batchId);
      batches.push(batchId);
    }
    // Stored two days ago (a first fold over history), and the cursor as it was then.
    await t.dataSource.query(`UPDATE usage_batches SET received_at = now() - interval '2 days' + (array_position($2::text[], batch_id) * interval '1 second') WHERE node_id = $1 AND batch_id = ANY($2::text[])`, [s.node.id, batches]);
    await t.dataSource.query(
      `UPDATE scorecard_cursors SET position = (SELECT floor(extract(epoch FROM min(received_at)) * 1000)::bigint::text FROM usage_batches WHERE node_id = $1 AND batch_id = ANY($2::text[])) WHERE source = 'batch'`,
      [s.node.id, batches],
    );
    const limited = () => t.dataSource.transaction((manager) => t.app.get(ScorecardFoldJob).fold(manager, 1));
    for (let i = 1; i <= 3; i++) {
      expect((await limited()).batches).toBe(1);
      expect((await scorecardOf(name, '30d')).modelClasses[0].scorecard.requests).toBe(i);
    }
    await limited();
    await fold();
    expect((await scorecardOf(name, '30d')).modelClasses[0].scorecard).toMatchObject({ requests: 3, ttftMsP50: 101 });
  });

  test('closed deliveries count by when they closed: the slow provider’s requests out of the SLA close its delivery in breach', async () => {
    // Two hours on, every window of the scenario is past its close (grace included).
    await t.app.get(SettlementService).closeDueWindows(new Date(Date.now() + 2 * 3_600_000));
    await fold();
    const cards = Object.fromEntries((await league()).items.map((e: { provider: string; scorecard: Record<string, unknown> }) => [e.provider, e.scorecard]));
    expect(cards[names.slow]).toMatchObject({ deliveriesClosed: 1, deliveriesBreached: 1, breachRate: '1.000000' });
    expect(cards[names.honest]).toMatchObject({ deliveriesClosed: 1, deliveriesBreached: 0, breachRate: '0.000000' });
    // Per node there is no breach: deliveries are the provider's.
    const slowCard = await scorecardOf(names.slow);
    expect(slowCard.modelClasses[0].nodes[0].scorecard).toMatchObject({ deliveriesClosed: 0, breachRate: null });
    await fold();
    expect((await league()).items.find((e: { provider: string }) => e.provider === names.slow).scorecard.deliveriesClosed).toBe(1);
  });

  test('a batch held whole by a counter mismatch counts once resolved, with the split the admin gave, as a dispute upheld', async () => {
    const market = await listSpotInstrument(t, 'sh', { spotWindowSeconds: 3_600 });
    const name = `Counted ${suffix}`;
    const s = await seller(name, market);
    // The node's counters grew by 50 prompt and 20 generation tokens (what the scraper records)…
    await t.dataSource.query(
      `INSERT INTO node_counter_samples (node_id, scraped_at, prompt_tokens_total, generation_tokens_total, request_success_total)
       VALUES ($1, $2, 1000, 500, 10), ($1, $3, 1050, 520, 11)`,
      [s.node.id, new Date(s.windowStart - 500), new Date(s.windowStart + 3_500)],
    );
    // …while it reports 400 + 100 tokens for a request: paid (judged before its counters were read),
    await postAndVerify(s, [request(s, 0, { ttftMs: 200, durationMs: 2_000 })]);
    // and its next batch is held whole: one counter_mismatch dispute of 200 tokens.
    const later = { ...request(s, 0, { ttftMs: 200, durationMs: 2_000 }) };
    const started = s.windowStart + 4_000;
    await postAndVerify(s, [{ ...later, startedAt: new Date(started).toISOString(), finishedAt: new Date(started + 2_000).toISOString() }]);
    await fold();
    expect((await scorecardOf(name)).modelClasses[0].scorecard).toMatchObject({ requests: 1, verifiedTokens: 200 });

    const [dispute] = (await t.http.get(`/v1/admin/disputes?deliveryId=${s.deliveryId}`).set(bearer(t.adminKey)).expect(200)).body.items;
    expect(dispute).toMatchObject({ kind: 'counter_mismatch', tokens: 200 });
    await t.http.post(`/v1/admin/disputes/${dispute.id}/resolve`).set(bearer(t.adminKey)).send({ resolution: 'split', providerTokens: 150, reason: 'part of it was served' }).expect(200);
    await fold();
    await fold();
    // 150 of the held 200 accepted, and 100 × 150 / 200 = 75 of its completion tokens (no buyer count to go by).
    expect((await scorecardOf(name)).modelClasses[0].scorecard).toMatchObject({ requests: 2, verifiedTokens: 350, outputTokens: 175, disputesUpheld: 1, disputeRate: '0.500000' });
  });
});

