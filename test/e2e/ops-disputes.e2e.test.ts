import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { SettlementService } from '../../src/settlement/settlement.service.js';
import { listSpotInstrument } from '../support/market-fixtures.js';
import { buyerMismatchDispute, type SpotMarket } from '../support/metering-fixtures.js';
import { consoleGet, consolePost, signInToConsole, type ConsoleSession } from '../support/ops-console.js';
import { balancesOf, bearer, startTestApp, type TestApp } from '../support/test-app.js';

// Disputes in the admin API and the ops console: the evidence side by side, and resolving with a
// required reason. Each dispute is opened the real way (metering-fixtures): the buyer reports
// 400 + 100 tokens for a request its provider's node signed as 400 + 150, so verification bills
// 200 billable tokens (prompt tokens count a quarter) and holds the 50 in excess out.
let t: TestApp;
let market: SpotMarket;
let session: ConsoleSession;
let adminId: string;

beforeAll(async () => {
  t = await startTestApp();
  market = await listSpotInstrument(t, 'dsp');
  session = await signInToConsole(t);
  adminId = (await t.http.get('/v1/me').set(bearer(t.adminKey)).expect(200)).body.id;
});
afterAll(async () => {
  await t.close();
});

const auditEventsOf = (disputeId: string) =>
  t.dataSource.query(`SELECT actor_id, action, details FROM audit_events WHERE subject_type = 'dispute' AND subject_id = $1`, [disputeId]);
const statusOf = async (disputeId: string) => (await t.dataSource.query(`SELECT status FROM disputes WHERE id = $1`, [disputeId]))[0].status;

describe('GET /v1/admin/disputes/:id', () => {
  test("shows the node's signed report, the buyer's counts, the audits and the node's counters side by side", async () => {
    const d = await buyerMismatchDispute(t, market);
    // The node's counters over the request, and an audit of it, as the scrape and audit jobs store them.
    await t.dataSource.query(
      `INSERT INTO node_counter_samples (node_id, scraped_at, prompt_tokens_total, generation_tokens_total, request_success_total)
       VALUES ($1, now() - interval '10 seconds', 1000, 500, 10), ($1, now(), 1400, 600, 11)`,
      [d.node.id],
    );
    await t.dataSource.query(
      `INSERT INTO node_audits (node_id, delivery_id, request_id, ok, answered_prompt_tokens, answered_completion_tokens, recounted_completion_tokens)
       VALUES ($1, $2, $3, true, 400, 150, 100)`,
      [d.node.id, d.deliveryId, d.requestId],
    );
    const got = (await t.http.get(`/v1/admin/disputes/${d.disputeId}`).set(bearer(t.adminKey)).expect(200)).body;
    expect(got).toMatchObject({
      id: d.disputeId,
      kind: 'buyer_mismatch',
      tokens: 50,
      status: 'open',
      providerId: d.provider.id,
      buyerId: d.buyer.id,
      resolvedBy: null,
      nodeReport: {
        batchId: d.batchId,
        recordCount: 1,
        signature: expect.stringMatching(/^[A-Za-z0-9_-]{86}$/),
        records: [{ requestId: d.requestId, promptTokens: 400, completionTokens: 150, reportedBillable: 250, billableTokens: 200, verdict: 'disputed', flags: ['buyer_mismatch'] }],
      },
      buyerReport: [{ requestId: d.requestId, promptTokens: 400, completionTokens: 100 }],
      audits: [{ requestId: d.requestId, ok: true, answeredCompletionTokens: 150, recountedCompletionTokens: 100, tokenizer: 'llama3' }],
      counters: { growth: { promptTokens: 400, generationTokens: 100 } },
    });
    expect(got.counters.samples).toHaveLength(2);
  });

  test('an unknown id is a 404, a malformed one a 400 naming it, and the route is for admins only', async () => {
    const d = await buyerMismatchDispute(t, market);
    const missing = await t.http.get(`/v1/admin/disputes/${randomUUID()}`).set(bearer(t.adminKey)).expect(404);
    expect(missing.body).toMatchObject({ code: 'DISPUTE_NOT_FOUND' });
    expect((await t.http.get('/v1/admin/disputes/nope').set(bearer(t.adminKey)).expect(400)).body.message).toContain('id');
    await t.http.get(`/v1/admin/disputes/${d.disputeId}`).set(bearer(d.buyer.key)).expect(403);
  });
});

describe('POST /v1/admin/disputes/:id/resolve', () => {
  test('a reason is required and recorded in the audit trail; resolving again is a 409', async () => {
    const d = await buyerMismatchDispute(t, market);
    const resolve = (body: object) => t.http.post(`/v1/admin/disputes/${d.disputeId}/resolve`).set(bearer(t.adminKey)).send(body);
    expect((await resolve({ resolution: 'buyer' }).expect(400)).body.message).toContain('reason');
    expect((await resolve({ resolution: 'buyer', reason: '    ' }).expect(400)).body.message).toContain('reason');
    expect(await statusOf(d.disputeId)).toBe('open');
    expect(await auditEventsOf(d.disputeId)).toEqual([]);

    const resolved = await resolve({ resolution: 'buyer', reason: 'the buyer logs match the tokenizer' }).expect(200);
    expect(resolved.body).toMatchObject({ status: 'resolved', resolution: 'buyer', providerTokens: 0, reason: 'the buyer logs match the tokenizer' });
    expect(await auditEventsOf(d.disputeId)).toEqual([
      { actor_id: adminId, action: 'dispute.resolve', details: { resolution: 'buyer', providerTokens: '0', tokens: '50', reason: 'the buyer logs match the tokenizer' } },
    ]);
    const again = await resolve({ resolution: 'provider', reason: 'second thoughts' }).expect(409);
    expect(again.body).toMatchObject({ code: 'DISPUTE_RESOLVED' });
    expect((await t.http.get(`/v1/admin/disputes/${d.disputeId}`).set(bearer(t.adminKey)).expect(200)).body).toMatchObject({ resolution: 'buyer', resolvedBy: adminId });
  });

  test('for the buyer no money moves (the buyer keeps the 50 tokens in its delivery); for the provider they are paid at the next payout', async () => {
    const settlement = t.app.get(SettlementService);
    const forBuyer = await buyerMismatchDispute(t, market);
    const forProvider = await buyerMismatchDispute(t, market);
    await settlement.payOutVerifiedUsage(); // the 200 verified tokens of each
    const before = {
      buyerSide: [await balancesOf(t, forBuyer.buyer), await balancesOf(t, forBuyer.provider)],
      providerSide: [await balancesOf(t, forProvider.buyer), await balancesOf(t, forProvider.provider)],
    };
    await t.http.post(`/v1/admin/disputes/${forBuyer.disputeId}/resolve`).set(bearer(t.adminKey)).send({ resolution: 'buyer', reason: 'node over-counted' }).expect(200);
    await t.http.post(`/v1/admin/disputes/${forProvider.disputeId}/resolve`).set(bearer(t.adminKey)).send({ resolution: 'provider', reason: 'buyer under-counted' }).expect(200);
    await settlement.payOutVerifiedUsage();
    expect([await balancesOf(t, forBuyer.buyer), await balancesOf(t, forBuyer.provider)]).toEqual(before.buyerSide);
    // 0.500 USD/MTok × 1,000,000 tokens = 0.500000 USD less the 0.000500 fee: the provider's 50
    // tokens more (from 200 to 250) are floor(499,500 × 250 / 10^6) − floor(499,500 × 200 / 10^6) = 124 − 99 micro-USD.
    const [buyer, provider] = [await balancesOf(t, forProvider.buyer), await balancesOf(t, forProvider.provider)];
    expect(provider.available).toBe(addMicros(before.providerSide[1].available, 25));
    expect(buyer.escrow).toBe(addMicros(before.providerSide[0].escrow, -25));
  });
});

describe('the console', () => {
  test('the disputes page lists open disputes (resolved ones with the filter) and pages with a cursor', async () => {
    const d = await buyerMismatchDispute(t, market);
    const open = await consoleGet(t, session, '/ops/disputes').expect(200);
    expect(open.text).toContain(`data-testid="dispute-row" data-id="${d.disputeId}"`);
    expect(open.text).toContain(`href="/ops/disputes/${d.disputeId}"`);
    const resolved = await consoleGet(t, session, '/ops/disputes?status=resolved').expect(200);
    expect(resolved.text).not.toContain(d.disputeId);
    await consoleGet(t, session, '/ops/disputes?status=maybe').expect(400);
    const newer = await buyerMismatchDispute(t, market);
    const first = await consoleGet(t, session, '/ops/disputes?status=all&limit=1').expect(200);
    expect(first.text).toContain(`data-id="${newer.disputeId}"`);
    const next = /href="([^"]+)" data-testid="next-page"/.exec(first.text)![1].replace(/&amp;/g, '&');
    const second = await consoleGet(t, session, next).expect(200);
    expect(second.text).toContain(`data-id="${d.disputeId}"`);
    expect(second.text).not.toContain(`data-id="${newer.disputeId}"`);
    await consoleGet(t, session, '/ops/disputes?cursor=garbage').expect(400);
  });

  test("a dispute's page shows each request as the node, the buyer and the audit counted it, and the resolve form", async () => {
    const d = await buyerMismatchDispute(t, market);
    const page = await consoleGet(t, session, `/ops/disputes/${d.disputeId}`).expect(200);
    expect(page.text).toContain(`data-request-id="${d.requestId}"`);
    expect(page.text).toMatch(/<td class="num">400<\/td><td class="num">150<\/td><td class="num">250<\/td>\s*<td class="num">400<\/td><td class="num">100<\/td>/);
    expect(page.text).toContain('data-testid="disputed-request"');
    expect(page.text).toContain(d.batchId);
    expect(page.text).toContain('data-testid="resolve-dispute"');
    expect(page.text).toContain(`href="/ops/participants/${d.provider.id}"`);
    await consoleGet(t, session, `/ops/disputes/${randomUUID()}`).expect(404);
    await consoleGet(t, session, '/ops/disputes/not-an-id').expect(400);
  });

  test('the resolve form needs its CSRF token and a reason, calls the same resolution (audited with the admin), then refuses a second one', async () => {
    const d = await buyerMismatchDispute(t, market);
    const path = `/ops/disputes/${d.disputeId}/resolve`;
    await t.http.post(path).set('Cookie', session.cookie).type('form').send({ resolution: 'buyer', providerTokens: '', reason: 'no csrf' }).expect(403);
    expect((await consolePost(t, session, path, { resolution: 'buyer', providerTokens: '', reason: '' }).expect(400)).text).toContain('reason');
    expect((await consolePost(t, session, path, { resolution: 'split', providerTokens: '', reason: 'half each' }).expect(400)).text).toContain('providerTokens');
    expect((await consolePost(t, session, path, { resolution: 'split', providerTokens: '51', reason: 'too many' }).expect(400)).text).toContain('at most the 50');
    await consolePost(t, session, path, { resolution: 'nobody', reason: 'what' }).expect(400);
    expect(await statusOf(d.disputeId)).toBe('open');
    expect(await auditEventsOf(d.disputeId)).toEqual([]);

    const done = await consolePost(t, session, path, { resolution: 'buyer', providerTokens: '', reason: 'the node counted a longer tokenization' }).expect(303);
    expect(done.headers.location).toBe(`/ops/disputes/${d.disputeId}?done=resolved`);
    const page = await consoleGet(t, session, done.headers.location).expect(200);
    expect(page.text).toContain('Resolved for buyer: 0 of 50 tokens to the provider.');
    expect(page.text).toMatch(/data-testid="dispute-status"[^>]*>resolved</);
    expect(page.text).toContain('the node counted a longer tokenization');
    expect(page.text).not.toContain('data-testid="resolve-dispute"');
    expect(await auditEventsOf(d.disputeId)).toEqual([
      { actor_id: adminId, action: 'dispute.resolve', details: expect.objectContaining({ resolution: 'buyer', reason: 'the node counted a longer tokenization' }) },
    ]);
    const again = await consolePost(t, session, path, { resolution: 'provider', providerTokens: '', reason: 'changed my mind' }).expect(409);
    expect(again.text).toContain('already resolved');
  });

  test('a split from the form pays the provider for the tokens given', async () => {
    const d = await buyerMismatchDispute(t, market);
    await consolePost(t, session, `/ops/disputes/${d.disputeId}/resolve`, { resolution: 'split', providerTokens: '20', reason: 'partial logs' }).expect(303);
    expect((await t.http.get(`/v1/admin/disputes/${d.disputeId}`).set(bearer(t.adminKey)).expect(200)).body).toMatchObject({ resolution: 'split', providerTokens: 20 });
  });
});

/** A decimal USD string plus `micros` micro-USD, exactly (no floats). */
function addMicros(usd: string, micros: number): string {
  const [whole, frac = ''] = usd.split('.');
  const total = BigInt(whole + frac.padEnd(6, '0')) + BigInt(micros);
  const sign = total < 0n ? '-' : '';
  const abs = (total < 0n ? -total : total).toString().padStart(7, '0');
  return `${sign}${abs.slice(0, -6)}.${abs.slice(-6)}`;
}
