import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { signUsageBatch, type UsageRecord } from '../../src/protocol/usage-batch.js';
import { NodeAuditJob } from '../../src/metering/node-audits.js';
import { SettlementService } from '../../src/settlement/settlement.service.js';
import { listSpotInstrument } from '../support/market-fixtures.js';
import { type MeteredNode, meteredDelivery, postUsageBatch, usageRecord, verifyUsageBatch } from '../support/metering-fixtures.js';
import { balancesOf, bearer, startTestApp, type TestApp } from '../support/test-app.js';

// A model class whose prompt tokens count a quarter (inputWeightBps 2500), with an SLA of 20
// tokens/s and a 2 s time to first token; a spot book with a 60 s window. The provider's node
// signs its usage with a key the test holds.
let t: TestApp;
let settlement: SettlementService;
let modelClassId: string;
let symbol: string;

beforeAll(async () => {
  t = await startTestApp();
  settlement = t.app.get(SettlementService);
  ({ symbol, modelClassId } = await listSpotInstrument(t, 'mtr', { spotWindowSeconds: 60 }));
});
afterAll(async () => {
  await t.close();
});
afterEach(async () => {
  const audit = await t.http.post('/v1/admin/ledger/audit').set(bearer(t.adminKey)).expect(200);
  expect(audit.body).toMatchObject({ sound: true });
});

type Node = MeteredNode;

const delivery = () => meteredDelivery(t, { symbol, modelClassId });
const record = (deliveryId: string, keyId: string, overrides: Partial<UsageRecord> = {}) => usageRecord(modelClassId, deliveryId, keyId, overrides);
const post = (node: Node, records: UsageRecord[], batchId: string = randomUUID(), key: KeyObject = node.key) => postUsageBatch(t, node, records, batchId, key);
const verify = (node: Node, batchId: string) => verifyUsageBatch(t, node, batchId);

const deliveryRow = async (id: string) =>
  (await t.dataSource.query(`SELECT delivered_tokens::int AS delivered, disputed_tokens::int AS disputed, paid_tokens::int AS paid, status, outcome FROM deliveries WHERE id = $1`, [id]))[0];

describe('ingest', () => {
  test('a signed batch is stored at once and answered 202; a resend gets its first answer; a request counts once', async () => {
    const { node, deliveryId, keyId } = await delivery();
    const records = [record(deliveryId, keyId), record(deliveryId, keyId)];
    const batchId = randomUUID();
    const first = await post(node, records, batchId).expect(202);
    expect(first.body).toEqual({ batchId, status: 'queued', accepted: records.map((r) => r.requestId), duplicates: [], rejected: [] });
    expect((await post(node, records, batchId).expect(200)).body).toEqual(first.body);
    // Another batch repeating one of those requests: that request is not counted again.
    const fresh = record(deliveryId, keyId);
    const again = await post(node, [records[0], fresh]).expect(202);
    expect(again.body).toMatchObject({ accepted: [fresh.requestId], duplicates: [records[0].requestId], rejected: [] });
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM usage_records WHERE node_id = $1`, [node.id]);
    expect(n).toBe(3);
    const [raw] = await t.dataSource.query(`SELECT body, signature FROM usage_batches WHERE node_id = $1 AND batch_id = $2`, [node.id, batchId]);
    expect(raw.signature).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect(JSON.parse(raw.body).records).toHaveLength(2);
    const [outbox] = await t.dataSource.query(`SELECT status FROM outbox WHERE job_name = 'metering.verify-batch' AND job_key = $1`, [`${node.id}:${batchId}`]);
    expect(outbox.status).toBe('pending');
  });

  test('the signature is checked first: a wrong key, a tampered payload or an unknown node stores nothing', async () => {
    const { node, deliveryId, keyId } = await delivery();
    const wrongKey = generateKeyPairSync('ed25519').privateKey;
    const signed = signUsageBatch({ batchId: randomUUID(), nodeId: node.id, createdAt: new Date().toISOString(), records: [record(deliveryId, keyId)] }, node.key);
    const tampered = Buffer.from(signed.body.toString().replace('"promptTokens":400', '"promptTokens":900'));
    const send = (headers: Record<string, string>, body: Buffer) => t.http.post('/v1/metering/usage-batches').set(headers).send(body.toString());
    const refusals = [
      await post(node, [record(deliveryId, keyId)], randomUUID(), wrongKey).expect(401),
      await send(signed.headers, tampered).expect(401),
      await send({ ...signed.headers, 'x-tokex-signature': '' }, signed.body).expect(401),
      await send({ ...signed.headers, 'x-tokex-node': randomUUID() }, signed.body).expect(401),
    ];
    expect(refusals.map((r) => r.body.code)).toEqual(['BAD_SIGNATURE', 'BAD_SIGNATURE', 'BAD_SIGNATURE', 'UNKNOWN_NODE']);
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM usage_batches WHERE node_id = $1`, [node.id]);
    expect(n).toBe(0);
  });

  test('a malformed record is rejected with its reason while the others are accepted; a malformed batch is a 400 naming the field', async () => {
    const { node, deliveryId, keyId } = await delivery();
    const good = record(deliveryId, keyId);
    const answer = await post(node, [record(deliveryId, keyId, { completionTokens: -5, requestId: 'bad-1' }), good]).expect(202);
    expect(answer.body).toMatchObject({ accepted: [good.requestId], rejected: [{ index: 0, requestId: 'bad-1', reason: expect.stringContaining('completionTokens') }] });
    const empty = await post(node, []).expect(400);
    expect(empty.body.message).toContain('records');
    const signed = signUsageBatch({ batchId: randomUUID(), nodeId: randomUUID(), createdAt: new Date().toISOString(), records: [good] }, node.key);
    const otherNode = await t.http.post('/v1/metering/usage-batches').set({ ...signed.headers, 'x-tokex-node': node.id }).send(signed.body.toString()).expect(400);
    expect(otherNode.body.message).toContain('nodeId');
  });
});

describe('verification', () => {
  test('honest usage is verified, drawn from the delivery and paid out: billable = completion + prompt / 4', async () => {
    const { provider, node, deliveryId, keyId } = await delivery();
    const batchId = randomUUID();
    await post(node, [record(deliveryId, keyId), record(deliveryId, keyId)], batchId).expect(202);
    await verify(node, batchId);
    await verify(node, batchId); // a second run changes nothing
    expect(await deliveryRow(deliveryId)).toMatchObject({ delivered: 400, disputed: 0 }); // 2 × (100 + 400 / 4)
    const before = (await balancesOf(t, provider)).available;
    await settlement.payOutVerifiedUsage();
    // 400 of 1,000,000 tokens of 0.500000 USD, less the 0.000500 fee pro rata: floor(499,500 × 400 / 1,000,000) = 199.
    expect(Number((await balancesOf(t, provider)).available) - Number(before)).toBeCloseTo(0.000199, 6);
    const verdicts = await t.dataSource.query(`SELECT verdict, billable_tokens::int AS billable, within_sla FROM usage_records WHERE node_id = $1 AND batch_id = $2`, [node.id, batchId]);
    expect(verdicts).toEqual([
      { verdict: 'verified', billable: 200, within_sla: true },
      { verdict: 'verified', billable: 200, within_sla: true },
    ]);
  });

  test('verified usage is one row per batch and delivery; a batch verifies only the records it stored', async () => {
    const { node, deliveryId, keyId } = await delivery();
    const [a, b, c] = [record(deliveryId, keyId), record(deliveryId, keyId), record(deliveryId, keyId)];
    const first = randomUUID();
    const second = randomUUID();
    await post(node, [a, b], first).expect(202);
    await post(node, [a, c], second).expect(202); // a: a duplicate, stored and verified with the first batch
    await verify(node, second);
    await verify(node, first);
    const usage = await t.dataSource.query(`SELECT id, tokens::int AS tokens FROM delivery_usage WHERE delivery_id = $1 ORDER BY tokens`, [deliveryId]);
    expect(usage).toEqual([
      { id: `batch:${node.id}:${second}:${deliveryId}`, tokens: 200 },
      { id: `batch:${node.id}:${first}:${deliveryId}`, tokens: 400 },
    ]);
    expect(await deliveryRow(deliveryId)).toMatchObject({ delivered: 600 });
    const rows = await t.dataSource.query(`SELECT request_id, batch_id, verdict FROM usage_records WHERE node_id = $1`, [node.id]);
    expect(rows).toEqual(
      expect.arrayContaining([
        { request_id: a.requestId, batch_id: first, verdict: 'verified' },
        { request_id: b.requestId, batch_id: first, verdict: 'verified' },
        { request_id: c.requestId, batch_id: second, verdict: 'verified' },
      ]),
    );
    expect(rows).toHaveLength(3);
  });

  test('usage outside the window, for another provider, or failed is rejected; out of SLA is recorded', async () => {
    const { node, deliveryId, keyId } = await delivery();
    const other = await delivery();
    const old = Date.now() - 600_000;
    const rows = [
      record(deliveryId, keyId, { startedAt: new Date(old).toISOString(), finishedAt: new Date(old + 1000).toISOString() }),
      record(other.deliveryId, other.keyId),
      record(deliveryId, keyId, { status: 'error', completionTokens: 0 }),
      record(deliveryId, keyId, { ttftMs: 1_900, completionTokens: 10 }), // within: TTFT under 2 s, then 90 tokens/s
      record(deliveryId, keyId, { ttftMs: 2_500, startedAt: new Date(Date.now() - 3_000).toISOString(), finishedAt: new Date(Date.now() - 100).toISOString() }), // out of SLA: TTFT
    ];
    const batchId = randomUUID();
    await post(node, rows, batchId).expect(202);
    await verify(node, batchId);
    const got = await t.dataSource.query(`SELECT request_id, verdict, flags, within_sla FROM usage_records WHERE node_id = $1 AND batch_id = $2`, [node.id, batchId]);
    const of = (r: UsageRecord) => got.find((g: { request_id: string }) => g.request_id === r.requestId);
    expect(of(rows[0])).toMatchObject({ verdict: 'rejected', flags: ['outside_window'] });
    expect(of(rows[1])).toMatchObject({ verdict: 'rejected', flags: ['wrong_provider'] });
    expect(of(rows[2])).toMatchObject({ verdict: 'rejected', flags: ['failed_request'] });
    expect(of(rows[3])).toMatchObject({ verdict: 'verified', within_sla: true });
    expect(of(rows[4])).toMatchObject({ verdict: 'verified', within_sla: false });
    expect(of(rows[4]).flags[0]).toMatch(/^out_of_sla: time to first token 2500 ms/);
  });

  test("a node that reports more than the buyer counted: the excess is disputed and held out until an admin resolves it", async () => {
    const { buyer, node, deliveryId, keyId } = await delivery();
    const inflated = record(deliveryId, keyId, { completionTokens: 150 }); // the buyer saw 100
    await t.http
      .post('/v1/metering/buyer-reports')
      .set(bearer(buyer.key))
      .send({ deliveryId, records: [{ requestId: inflated.requestId, promptTokens: 400, completionTokens: 100 }] })
      .expect(202);
    const batchId = randomUUID();
    await post(node, [inflated], batchId).expect(202);
    await verify(node, batchId);
    expect(await deliveryRow(deliveryId)).toMatchObject({ delivered: 200, disputed: 50 });
    const disputes = (await t.http.get(`/v1/admin/disputes?deliveryId=${deliveryId}`).set(bearer(t.adminKey)).expect(200)).body.items;
    expect(disputes).toEqual([
      expect.objectContaining({ kind: 'buyer_mismatch', tokens: 50, status: 'open', evidence: expect.objectContaining({ requestId: inflated.requestId }) }),
    ]);
    // The window has ended, but a delivery with tokens under dispute waits for the admin.
    await settlement.closeDueWindows(new Date(Date.now() + 3_600_000));
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: 'open' });
    await t.http.get('/v1/admin/disputes').set(bearer(buyer.key)).expect(403);
    await t.http.post(`/v1/admin/disputes/${disputes[0].id}/resolve`).set(bearer(t.adminKey)).send({ resolution: 'split', reason: 'no split amount' }).expect(400);
    const resolved = await t.http
      .post(`/v1/admin/disputes/${disputes[0].id}/resolve`)
      .set(bearer(t.adminKey))
      .send({ resolution: 'split', providerTokens: 10, reason: 'partial logs from the provider' })
      .expect(200);
    expect(resolved.body).toMatchObject({ status: 'resolved', resolution: 'split', providerTokens: 10 });
    await t.http.post(`/v1/admin/disputes/${disputes[0].id}/resolve`).set(bearer(t.adminKey)).send({ resolution: 'buyer', reason: 'again' }).expect(409);
    expect(await deliveryRow(deliveryId)).toMatchObject({ delivered: 210, disputed: 0 });
    const [audit] = await t.dataSource.query(`SELECT action, details FROM audit_events WHERE subject_id = $1`, [disputes[0].id]);
    expect(audit).toMatchObject({ action: 'dispute.resolve', details: expect.objectContaining({ resolution: 'split', providerTokens: '10' }) });
    await settlement.closeDueWindows(new Date(Date.now() + 3_600_000));
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: 'closed' });
  });

  test("reported usage beyond what the node's own counters grew by is held out as a counter mismatch", async () => {
    const { node, deliveryId, keyId } = await delivery();
    const start = Date.now() - 3_000;
    // The node's counters grew by 50 prompt and 20 generation tokens over the period…
    await t.dataSource.query(
      `INSERT INTO node_counter_samples (node_id, scraped_at, prompt_tokens_total, generation_tokens_total, request_success_total)
       VALUES ($1, $2, 1000, 500, 10), ($1, $3, 1050, 520, 11)`,
      [node.id, new Date(start - 500), new Date()],
    );
    // …but it reports 400 prompt and 100 completion tokens for a request in that period. Its own
    // batch is judged on what the counters showed before it finished, so it is paid…
    const batchId = randomUUID();
    await post(node, [record(deliveryId, keyId, { startedAt: new Date(start).toISOString(), finishedAt: new Date(start + 2_000).toISOString() })], batchId).expect(202);
    await verify(node, batchId);
    expect(await deliveryRow(deliveryId)).toMatchObject({ delivered: 200, disputed: 0 });
    // …and the next batch, whose request finished after the last sample, sees the mismatch and is held.
    const next = randomUUID();
    await post(node, [record(deliveryId, keyId, { startedAt: new Date(Date.now() + 100).toISOString(), finishedAt: new Date(Date.now() + 2_100).toISOString() })], next).expect(202);
    await verify(node, next);
    expect(await deliveryRow(deliveryId)).toMatchObject({ delivered: 200, disputed: 200 });
    const [dispute] = (await t.http.get(`/v1/admin/disputes?deliveryId=${deliveryId}`).set(bearer(t.adminKey)).expect(200)).body.items;
    expect(dispute).toMatchObject({ kind: 'counter_mismatch', tokens: 200, evidence: expect.objectContaining({ counters: { promptTokens: 50, generationTokens: 20 } }) });
  });

  test("a node's counters are reconciled cumulatively: an inflation within each batch's tolerance shows in the totals, and an admin's resolution starts it afresh", async () => {
    const { node, deliveryId, keyId } = await delivery();
    const t0 = Date.now() - 4_000; // within the window's 5 s of skew
    // Six requests of 400 + 100 tokens, one every 2 s, each followed by a scrape that counts it
    // (samples at t0 - 500 ms, then 1.5 s after each request starts; some in the future, which
    // verification does not mind). The node reports 102
    // completion tokens for each: 2 over, within a single request's tolerance.
    const at = (i: number) => t0 + i * 2_000;
    await t.dataSource.query(
      `INSERT INTO node_counter_samples (node_id, scraped_at, prompt_tokens_total, generation_tokens_total, request_success_total)
       SELECT $1, $2::timestamptz + make_interval(secs => i * 2) - interval '500 ms', 1000 + 400 * i, 500 + 100 * i, i
         FROM generate_series(0, 6) AS i`,
      [node.id, new Date(t0)],
    );
    const request = (i: number, completionTokens = 102) =>
      record(deliveryId, keyId, { completionTokens, startedAt: new Date(at(i)).toISOString(), finishedAt: new Date(at(i) + 1_000).toISOString() });
    const verdicts: string[] = [];
    for (let i = 0; i < 5; i++) {
      const batchId = randomUUID();
      await post(node, [request(i)], batchId).expect(202);
      await verify(node, batchId);
      verdicts.push((await t.dataSource.query(`SELECT verdict FROM usage_records WHERE node_id = $1 AND batch_id = $2`, [node.id, batchId]))[0].verdict);
    }
    // Judged each on its own span, every batch passed. Each batch moves the reconciliation to the
    // sample before its request finished: the third sees the first two, 204 reported against 200.
    expect(verdicts).toEqual(['verified', 'verified', 'disputed', 'disputed', 'disputed']);
    const disputes = (await t.http.get(`/v1/admin/disputes?deliveryId=${deliveryId}`).set(bearer(t.adminKey)).expect(200)).body.items;
    expect(disputes.map((d: { kind: string }) => d.kind)).toEqual(Array(3).fill('counter_mismatch'));
    expect(disputes.at(-1).evidence).toMatchObject({ reported: { requests: 2, promptTokens: 800, completionTokens: 204 }, counters: { promptTokens: 800, generationTokens: 200 } });
    expect(disputes[0].evidence).toMatchObject({ reported: { requests: 4, completionTokens: 408 }, counters: { generationTokens: 400 } });
    // The admin looks at the node and resolves them: its next batch is judged from a new baseline.
    for (const d of disputes) {
      await t.http.post(`/v1/admin/disputes/${d.id}/resolve`).set(bearer(t.adminKey)).send({ resolution: 'buyer', reason: 'the node over-reported' }).expect(200);
    }
    const honest = randomUUID();
    await post(node, [request(5, 100)], honest).expect(202);
    await verify(node, honest);
    expect(await t.dataSource.query(`SELECT verdict FROM usage_records WHERE node_id = $1 AND batch_id = $2`, [node.id, honest])).toEqual([{ verdict: 'verified' }]);
  });

  test('a node caught by an audit is under review: what it reports is held until an admin resolves the audit dispute', async () => {
    const { node, deliveryId, keyId } = await delivery();
    // The exchange's audit re-counted 100 completion tokens; the node reports 120 for it.
    const audited = record(deliveryId, keyId, { completionTokens: 120 });
    await t.dataSource.query(
      `INSERT INTO node_audits (node_id, delivery_id, request_id, ok, answered_prompt_tokens, answered_completion_tokens, recounted_completion_tokens)
       VALUES ($1, $2, $3, true, 400, 100, 100)`,
      [node.id, deliveryId, audited.requestId],
    );
    const first = randomUUID();
    await post(node, [audited], first).expect(202);
    await verify(node, first);
    const [auditDispute] = (await t.http.get(`/v1/admin/disputes?deliveryId=${deliveryId}`).set(bearer(t.adminKey)).expect(200)).body.items;
    expect(auditDispute).toMatchObject({ kind: 'audit_mismatch', tokens: 0 });
    // Under review: an honest-looking batch is held whole, not paid.
    const held = randomUUID();
    await post(node, [record(deliveryId, keyId), record(deliveryId, keyId)], held).expect(202);
    await verify(node, held);
    expect(await deliveryRow(deliveryId)).toMatchObject({ delivered: 0, disputed: 400 });
    const disputes = (await t.http.get(`/v1/admin/disputes?deliveryId=${deliveryId}&status=open`).set(bearer(t.adminKey)).expect(200)).body.items;
    expect(disputes.map((d: { kind: string; tokens: number }) => [d.kind, d.tokens]).sort()).toEqual([
      ['audit_mismatch', 0],
      ['node_under_review', 400],
    ]);
    // Resolved: the review ends, and the next batch is paid as usual.
    await t.http.post(`/v1/admin/disputes/${auditDispute.id}/resolve`).set(bearer(t.adminKey)).send({ resolution: 'provider', reason: 'a one-off in the node\'s tokenizer' }).expect(200);
    const after = randomUUID();
    await post(node, [record(deliveryId, keyId)], after).expect(202);
    await verify(node, after);
    expect(await deliveryRow(deliveryId)).toMatchObject({ delivered: 200, disputed: 400 });
  });

  test('a node is audited every 50 requests it reports, as well as every minute', async () => {
    const busy = await delivery();
    const quiet = await delivery();
    // Requests started after the nodes were registered (an audit is due after that many since the last one).
    const since = (d: typeof busy, n: number) =>
      Array.from({ length: n }, (_, i) => record(d.deliveryId, d.keyId, { startedAt: new Date(Date.now() + i).toISOString(), finishedAt: new Date(Date.now() + 2_000 + i).toISOString() }));
    const [busyBatch, quietBatch] = [randomUUID(), randomUUID()];
    await post(busy.node, since(busy, 50), busyBatch).expect(202);
    await post(quiet.node, since(quiet, 49), quietBatch).expect(202);
    // Verifying the busy node's batch asks for an audit at once (through the outbox); the quiet one's does not.
    await verify(busy.node, busyBatch);
    await verify(quiet.node, quietBatch);
    const asked = await t.dataSource.query(`SELECT job_key FROM outbox WHERE job_name = 'metering.audit-nodes' AND split_part(job_key, ':', 2) = ANY($1::text[])`, [
      [busy.node.id, quiet.node.id],
    ]);
    expect(asked.map((r: { job_key: string }) => r.job_key.split(':')[1])).toEqual([busy.node.id]);
    await t.app.get(NodeAuditJob).handle();
    // The busy node is audited (its URL refuses: a failed audit, stored as evidence); the quiet one is not due yet.
    const audits = await t.dataSource.query(`SELECT node_id, ok FROM node_audits WHERE node_id = ANY($1::uuid[])`, [[busy.node.id, quiet.node.id]]);
    expect(audits).toEqual([{ node_id: busy.node.id, ok: false }]);
  });

  test('failed and out-of-SLA requests beyond 1 % of a delivery make its close a breach', async () => {
    const { buyer, node, deliveryId, keyId } = await delivery();
    const slow = (i: number) =>
      record(deliveryId, keyId, { ttftMs: 2_500, startedAt: new Date(Date.now() - 3_000).toISOString(), finishedAt: new Date(Date.now() - 100).toISOString(), requestId: `slow-${i}-${randomUUID()}` });
    const batchId = randomUUID();
    await post(node, [slow(1), slow(2), slow(3), record(deliveryId, keyId)], batchId).expect(202);
    await verify(node, batchId);
    const before = (await balancesOf(t, buyer)).available;
    await settlement.closeDueWindows(new Date(Date.now() + 3_600_000));
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: 'closed', outcome: 'breach', paid: 800 });
    expect(Number((await balancesOf(t, buyer)).available)).toBeGreaterThan(Number(before));
  });
});
