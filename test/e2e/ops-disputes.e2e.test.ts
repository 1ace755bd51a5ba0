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
//
// The money, exactly: each delivery is 1,000,000 tokens at 0.500 USD/MTok, so 500,000 micro-USD
// of escrow, of which 500 is the provider's fee. Tokens resolved for the buyer leave the top of
// the delivery's axis: the 50 of a buyer resolution are 999,950 to 1,000,000, whose escrow is
// (499,500 − floor(499,500 × 999,950 / 10^6)) + (500 − floor(500 × 999,950 / 10^6)) = 25 + 1 = 26,
// with a penalty of 10 % of it rounded up, 3, from the provider's bond. A split giving 20 to the
// provider refunds 30 (999,970 to 1,000,000): 15 + 1 = 16, penalty 2.
let t: TestApp;
let market: SpotMarket;
let session: ConsoleSession;
let adminId: string;

beforeAll(async () => {
  t = await startTestApp();
  market = await listSpotInstrument(t, 'dsp', { spotWindowSeconds: 60 });
  session = await signInToConsole(t);
  adminId = (await t.http.get('/v1/me').set(bearer(t.adminKey)).expect(200)).body.id;
});
afterAll(async () => {
  await t.close();
});

const auditEventsOf = (disputeId: string) =>
  t.dataSource.query(`SELECT actor_id, action, details FROM audit_events WHERE subject_type = 'dispute' AND subject_id = $1`, [disputeId]);
const statusOf = async (disputeId: string) => (await t.dataSource.query(`SELECT status FROM disputes WHERE id = $1`, [disputeId]))[0].status;
const deliveryMoney = async (id: string) =>
  (
    await t.dataSource.query(
      `SELECT status, outcome, paid_tokens::int AS "paidTokens", disputed_tokens::int AS "disputedTokens", refunded_tokens::int AS "refundedTokens",
              paid_micros::int AS paid, fee_paid_micros::int AS fee, refunded_micros::int AS refunded, penalty_micros::int AS penalty, bond_micros::int AS bond
         FROM deliveries WHERE id = $1`,
      [id],
    )
  )[0];
const ledgerAuditIsSound = async () => expect((await t.http.post('/v1/admin/ledger/audit').set(bearer(t.adminKey)).expect(200)).body).toMatchObject({ sound: true });

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
    expect(resolved.body).toMatchObject({
      status: 'resolved',
      resolution: 'buyer',
      providerTokens: 0,
      reason: 'the buyer logs match the tokenizer',
      refund: { tokens: 50, buyerRefund: '0.000026', penalty: '0.000003', settlementId: expect.any(String) },
    });
    expect(await auditEventsOf(d.disputeId)).toEqual([
      {
        actor_id: adminId,
        action: 'dispute.resolve',
        details: {
          resolution: 'buyer',
          providerTokens: '0',
          tokens: '50',
          reason: 'the buyer logs match the tokenizer',
          refundedTokens: '50',
          buyerRefund: '26',
          penalty: '3',
          settlementId: resolved.body.refund.settlementId,
        },
      },
    ]);
    const again = await resolve({ resolution: 'provider', reason: 'second thoughts' }).expect(409);
    expect(again.body).toMatchObject({ code: 'DISPUTE_RESOLVED' });
    expect((await t.http.get(`/v1/admin/disputes/${d.disputeId}`).set(bearer(t.adminKey)).expect(200)).body).toMatchObject({ resolution: 'buyer', resolvedBy: adminId });
  });

  test("for the buyer, the tokens' escrow goes back with a penalty from the bond at once, and the close never pays them; for the provider they are paid at the next payout", async () => {
    const settlement = t.app.get(SettlementService);
    const forBuyer = await buyerMismatchDispute(t, market);
    const forProvider = await buyerMismatchDispute(t, market);
    await settlement.payOutVerifiedUsage(); // the 200 verified tokens of each: floor(499,500 × 200 / 10^6) = 99
    const before = {
      buyerSide: [await balancesOf(t, forBuyer.buyer), await balancesOf(t, forBuyer.provider)],
      providerSide: [await balancesOf(t, forProvider.buyer), await balancesOf(t, forProvider.provider)],
    };
    await t.http.post(`/v1/admin/disputes/${forBuyer.disputeId}/resolve`).set(bearer(t.adminKey)).send({ resolution: 'buyer', reason: 'node over-counted' }).expect(200);
    await t.http.post(`/v1/admin/disputes/${forProvider.disputeId}/resolve`).set(bearer(t.adminKey)).send({ resolution: 'provider', reason: 'buyer under-counted' }).expect(200);

    // The buyer resolution moved its money in the resolve itself: 26 back from escrow, 3 from the bond.
    const [buyer, provider] = [await balancesOf(t, forBuyer.buyer), await balancesOf(t, forBuyer.provider)];
    expect(buyer.available).toBe(addMicros(before.buyerSide[0].available, 26 + 3));
    expect(buyer.escrow).toBe(addMicros(before.buyerSide[0].escrow, -26));
    expect(provider.bond).toBe(addMicros(before.buyerSide[1].bond, -3));
    expect(provider.available).toBe(before.buyerSide[1].available);
    expect(await deliveryMoney(forBuyer.deliveryId)).toMatchObject({ paidTokens: 200, disputedTokens: 0, refundedTokens: 50, paid: 99, fee: 0, refunded: 26, penalty: 3 });
    const steps = (await t.http.get(`/v1/admin/settlements?kind=dispute&deliveryId=${forBuyer.deliveryId}`).set(bearer(t.adminKey)).expect(200)).body.items;
    expect(steps).toEqual([
      expect.objectContaining({
        key: `dispute:${forBuyer.disputeId}`,
        kind: 'dispute',
        tokens: 50,
        amounts: { buyerRefund: '0.000026', penalty: '0.000003' },
        transferIds: [`dispute:${forBuyer.disputeId}:refund`, `dispute:${forBuyer.disputeId}:penalty`],
        status: 'done',
      }),
    ]);

    // The provider resolution: its 50 tokens more (from 200 to 250) are
    // floor(499,500 × 250 / 10^6) − floor(499,500 × 200 / 10^6) = 124 − 99 micro-USD, at the next payout.
    await settlement.payOutVerifiedUsage();
    expect([await balancesOf(t, forBuyer.buyer), await balancesOf(t, forBuyer.provider)]).toEqual([buyer, provider]);
    const [pBuyer, pProvider] = [await balancesOf(t, forProvider.buyer), await balancesOf(t, forProvider.provider)];
    expect(pProvider.available).toBe(addMicros(before.providerSide[1].available, 25));
    expect(pBuyer.escrow).toBe(addMicros(before.providerSide[0].escrow, -25));
    expect(pProvider.bond).toBe(before.providerSide[1].bond);
    expect((await deliveryMoney(forProvider.deliveryId)).refundedTokens).toBe(0);

    // The window closes, take-or-pay: the provider is paid up to 999,950 and never for the 50
    // refunded tokens: floor(499,500 × 999,950 / 10^6) − 99 = 499,475 − 99 = 499,376, and the fee
    // floor(500 × 999,950 / 10^6) = 499. The bond goes back less the 3 of the penalty.
    const { bond } = await deliveryMoney(forBuyer.deliveryId);
    await settlement.closeDueWindows(new Date(Date.now() + 3_600_000));
    expect(await deliveryMoney(forBuyer.deliveryId)).toMatchObject({
      status: 'closed',
      outcome: 'take_or_pay',
      paidTokens: 999_950,
      refundedTokens: 50,
      paid: 499_475,
      fee: 499,
      refunded: 26,
      penalty: 3,
    });
    const closed = [await balancesOf(t, forBuyer.buyer), await balancesOf(t, forBuyer.provider)];
    expect(closed[1].available).toBe(addMicros(provider.available, 499_376 + bond - 3));
    expect(closed[1].bond).toBe(addMicros(provider.bond, -(bond - 3)));
    expect(closed[0].escrow).toBe(addMicros(buyer.escrow, -(499_376 + 499)));
    expect(closed[0].available).toBe(buyer.available);
    // Every micro-dollar of the escrow went somewhere: paid, fee or refunded.
    expect(499_475 + 499 + 26).toBe(500_000);
    await ledgerAuditIsSound();
  });

  test('a split pays the provider for its share and refunds the rest to the buyer with the penalty; the close pays neither again', async () => {
    const settlement = t.app.get(SettlementService);
    const d = await buyerMismatchDispute(t, market);
    await settlement.payOutVerifiedUsage();
    const before = [await balancesOf(t, d.buyer), await balancesOf(t, d.provider)];
    const resolved = await t.http
      .post(`/v1/admin/disputes/${d.disputeId}/resolve`)
      .set(bearer(t.adminKey))
      .send({ resolution: 'split', providerTokens: 20, reason: 'partial logs' })
      .expect(200);
    expect(resolved.body).toMatchObject({ providerTokens: 20, refund: { tokens: 30, buyerRefund: '0.000016', penalty: '0.000002' } });
    const after = [await balancesOf(t, d.buyer), await balancesOf(t, d.provider)];
    expect(after[0].available).toBe(addMicros(before[0].available, 16 + 2));
    expect(after[0].escrow).toBe(addMicros(before[0].escrow, -16));
    expect(after[1].bond).toBe(addMicros(before[1].bond, -2));
    expect(after[1].available).toBe(before[1].available);

    // The provider's 20: floor(499,500 × 220 / 10^6) − 99 = 109 − 99 = 10, and no fee yet (floor(500 × 220 / 10^6) = 0).
    await settlement.payOutVerifiedUsage();
    const paid = [await balancesOf(t, d.buyer), await balancesOf(t, d.provider)];
    expect(paid[1].available).toBe(addMicros(after[1].available, 10));
    expect(paid[0].escrow).toBe(addMicros(after[0].escrow, -10));

    // The close: up to 999,970, floor(499,500 × 999,970 / 10^6) − 109 = 499,485 − 109 = 499,376, fee 499.
    const { bond } = await deliveryMoney(d.deliveryId);
    await settlement.closeDueWindows(new Date(Date.now() + 3_600_000));
    expect(await deliveryMoney(d.deliveryId)).toMatchObject({
      status: 'closed',
      outcome: 'take_or_pay',
      paidTokens: 999_970,
      refundedTokens: 30,
      paid: 499_485,
      fee: 499,
      refunded: 16,
      penalty: 2,
    });
    const closed = [await balancesOf(t, d.buyer), await balancesOf(t, d.provider)];
    expect(closed[1].available).toBe(addMicros(paid[1].available, 499_376 + bond - 2));
    expect(closed[1].bond).toBe(addMicros(paid[1].bond, -(bond - 2)));
    expect(closed[0].escrow).toBe(addMicros(paid[0].escrow, -(499_376 + 499)));
    expect(499_485 + 499 + 16).toBe(500_000);
    await ledgerAuditIsSound();
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
    const form = await consoleGet(t, session, `/ops/disputes/${d.disputeId}`).expect(200);
    expect(form.text).toContain("their escrow goes back to the buyer now, with a penalty of 10 % of it from the provider&#39;s bond");
    await consolePost(t, session, `/ops/disputes/${d.disputeId}/resolve`, { resolution: 'split', providerTokens: '20', reason: 'partial logs' }).expect(303);
    const got = (await t.http.get(`/v1/admin/disputes/${d.disputeId}`).set(bearer(t.adminKey)).expect(200)).body;
    expect(got).toMatchObject({ resolution: 'split', providerTokens: 20, refund: { tokens: 30, buyerRefund: '0.000016', penalty: '0.000002' } });
    const page = await consoleGet(t, session, `/ops/disputes/${d.disputeId}`).expect(200);
    expect(page.text).toMatch(/data-testid="dispute-money">30 tokens refunded to the buyer: <span class="num">0.000016<\/span> USD of escrow back, and a penalty of <span class="num">0.000002<\/span> USD/);
    expect(page.text).toContain(`href="/ops/settlements/${got.refund.settlementId}"`);
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
