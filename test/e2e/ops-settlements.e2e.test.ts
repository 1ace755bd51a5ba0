import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { LedgerService } from '../../src/ledger/ledger.service.js';
import { VerifiedUsageRepository } from '../../src/metering/verified-usage.repository.js';
import type { Principal } from '../../src/platform/http/auth.js';
import { DeliveryReview } from '../../src/settlement/delivery-review.service.js';
import { SettlementService } from '../../src/settlement/settlement.service.js';
import { fundedBuyer, fundedProvider, listSpotInstrument } from '../support/market-fixtures.js';
import { consoleGet, consolePost, signInToConsole } from '../support/ops-console.js';
import { balancesOf, bearer, countRows, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';

// Settlements and deliveries, for admins: the admin API routes and the console pages over them.
// A failed step is made honestly: the buyer's escrow is moved away through the ledger, so the
// ledger refuses the payout (insufficient funds) exactly as it would refuse a real shortfall.
let t: TestApp;
let settlement: SettlementService;
let usage: VerifiedUsageRepository;
let ledger: LedgerService;
let symbol: string;
let modelClassId: string;

beforeAll(async () => {
  t = await startTestApp();
  settlement = t.app.get(SettlementService);
  usage = t.app.get(VerifiedUsageRepository);
  ledger = t.app.get(LedgerService);
  ({ symbol, modelClassId } = await listSpotInstrument(t, 'ops', { spotWindowSeconds: 60 }));
});
afterAll(async () => {
  await t.close();
});
afterEach(async () => {
  const audit = await t.http.post('/v1/admin/ledger/audit').set(bearer(t.adminKey)).expect(200);
  expect(audit.body).toMatchObject({ sound: true, trialBalance: { balanced: true } });
});

const admin = () => t.http;
const order = (who: TestParticipant, body: object) => t.http.post('/v1/orders').set(bearer(who.key)).send({ instrument: symbol, ...body });

/** 1,000,000 tokens at 0.500 (0.500000 USD in the buyer's escrow); returns the delivery. */
async function trade(): Promise<{ buyer: TestParticipant; provider: TestParticipant; delivery: any }> {
  const buyer = await fundedBuyer(t, '100');
  const provider = await fundedProvider(t, modelClassId, { cash: '100' });
  await order(buyer, { side: 'buy', type: 'limit', price: '0.500', quantity: 1_000_000 }).expect(201);
  await order(provider, { side: 'sell', type: 'limit', price: '0.500', quantity: 1_000_000 }).expect(201);
  const list = await t.http.get('/v1/deliveries').set(bearer(buyer.key)).expect(200);
  return { buyer, provider, delivery: list.body.items[0] };
}

/** Moves the buyer's escrow to its available cash (or back), through the ledger. */
async function moveEscrow(buyer: TestParticipant, id: string, back = false): Promise<void> {
  const accounts = await ledger.accountsOf(buyer.id);
  const [debit, credit] = back ? [accounts.available, accounts.escrow] : [accounts.escrow, accounts.available];
  await ledger.inTransaction((m) => ledger.transferOrThrow(m, [{ id, debitAccountId: debit, creditAccountId: credit, amount: 500_000n, code: 'test-escrow-move' }]));
}

const stepsOf = async (deliveryId: string) =>
  (await admin().get(`/v1/admin/settlements?deliveryId=${deliveryId}`).set(bearer(t.adminKey)).expect(200)).body.items as any[];

const audits = (subjectId: string) =>
  t.dataSource.query(`SELECT actor_id, action, details FROM audit_events WHERE subject_type = 'settlement' AND subject_id = $1 ORDER BY id`, [subjectId]);

describe('a failed settlement step and its retry (API)', () => {
  test('the ledger refuses one payout: it is recorded failed, the rest of the batch settles, the sweeps leave it, a retry runs it once', async () => {
    const failing = await trade();
    const healthy = await trade();
    await usage.record(`u-${failing.delivery.id}`, failing.delivery.id, 400_000n);
    await usage.record(`u-${healthy.delivery.id}`, healthy.delivery.id, 400_000n);
    await moveEscrow(failing.buyer, `drain:${failing.delivery.id}`);
    await settlement.payOutVerifiedUsage();

    // The healthy delivery was paid in the same sweep; the failing one has a failed step and moved nothing.
    expect((await balancesOf(t, healthy.provider)).available).toBe('100.149800');
    expect((await balancesOf(t, failing.provider)).available).toBe('99.950000');
    const failed = (await stepsOf(failing.delivery.id)).find((s) => s.kind === 'payout');
    expect(failed).toMatchObject({ status: 'failed', attempts: 1, tokens: 400_000, key: `payout:${failing.delivery.id}:400000` });
    expect(failed.error).toMatch(/INSUFFICIENT_FUNDS/);
    const listed = await admin().get(`/v1/admin/settlements?status=failed&participantId=${failing.buyer.id}`).set(bearer(t.adminKey)).expect(200);
    expect(listed.body.items.map((s: any) => s.id)).toEqual([failed.id]);

    // The sweeps pass it by (no second attempt), even a close due long after.
    await settlement.payOutVerifiedUsage();
    await settlement.closeDueWindows(new Date(Date.now() + 3_600_000));
    expect((await stepsOf(failing.delivery.id)).find((s) => s.id === failed.id)).toMatchObject({ status: 'failed', attempts: 1 });
    expect((await t.http.get(`/v1/deliveries/${failing.delivery.id}`).set(bearer(failing.buyer.key)).expect(200)).body.status).toBe('open');

    // The detail: its delivery, no usage paid, transfers planned but never made.
    const detail = (await admin().get(`/v1/admin/settlements/${failed.id}`).set(bearer(t.adminKey)).expect(200)).body;
    expect(detail.delivery).toMatchObject({ id: failing.delivery.id, ordered: 1_000_000, delivered: 400_000, paid: 0, escrow: '0.500000' });
    expect(detail.usage).toEqual([]);
    expect(detail.transfers.map((x: any) => [x.id, x.made])).toEqual([
      [`payout:${failing.delivery.id}:400000:provider`, false],
      [`payout:${failing.delivery.id}:400000:fee`, false],
    ]);

    // Refused input and roles change nothing.
    await admin().post(`/v1/admin/settlements/${failed.id}/retry`).set(bearer(t.adminKey)).send({}).expect(400);
    const blank = await admin().post(`/v1/admin/settlements/${failed.id}/retry`).set(bearer(t.adminKey)).send({ reason: '' }).expect(400);
    expect(blank.body.message).toMatch(/reason/);
    await admin().post(`/v1/admin/settlements/${failed.id}/retry`).set(bearer(t.adminKey)).send({ reason: 'x', extra: 1 }).expect(400);
    await admin().post(`/v1/admin/settlements/${failed.id}/retry`).set(bearer(failing.buyer.key)).send({ reason: 'x' }).expect(403);
    expect(await audits(failed.id)).toEqual([]);

    // Retried while the escrow is still short: refused again, recorded and audited.
    const again = await admin().post(`/v1/admin/settlements/${failed.id}/retry`).set(bearer(t.adminKey)).send({ reason: 'escrow not back yet' }).expect(200);
    expect(again.body.settlement).toMatchObject({ id: failed.id, status: 'failed', attempts: 2 });
    expect((await balancesOf(t, failing.provider)).available).toBe('99.950000');

    // The escrow is back: two retries at once run the step exactly once.
    await moveEscrow(failing.buyer, `restore:${failing.delivery.id}`, true);
    const answers = await Promise.all(
      [1, 2].map(() => admin().post(`/v1/admin/settlements/${failed.id}/retry`).set(bearer(t.adminKey)).send({ reason: 'escrow restored' })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const done = answers.find((a) => a.status === 200)!.body;
    expect(done.settlement).toMatchObject({ id: failed.id, status: 'done', attempts: 3, error: null, tokens: 400_000, amounts: { providerPayout: '0.199800', providerFee: '0.000200' } });
    expect(done.usage).toEqual([expect.objectContaining({ id: `u-${failing.delivery.id}`, tokens: 400_000 })]);
    expect(done.transfers).toEqual([
      expect.objectContaining({ id: `payout:${failing.delivery.id}:400000:provider`, made: true, code: 'delivery-payout', amount: '0.199800', credit: expect.objectContaining({ participantId: failing.provider.id, kind: 'available' }) }),
      expect.objectContaining({ id: `payout:${failing.delivery.id}:400000:fee`, made: true, code: 'delivery-fee', amount: '0.000200', credit: expect.objectContaining({ participantId: null, kind: 'fees' }) }),
    ]);
    expect((await balancesOf(t, failing.provider)).available).toBe('100.149800');

    // A retry of a done step moves nothing: 409.
    const transfers = await countRows(t, 'transfers');
    const refused = await admin().post(`/v1/admin/settlements/${failed.id}/retry`).set(bearer(t.adminKey)).send({ reason: 'once more' }).expect(409);
    expect(refused.body.code).toBe('SETTLEMENT_NOT_FAILED');
    expect(await countRows(t, 'transfers')).toBe(transfers);
    expect((await balancesOf(t, failing.provider)).available).toBe('100.149800');

    // Every run that happened is audited, with who and why and how it went.
    const trail = await audits(failed.id);
    expect(trail.map((a: any) => [a.action, a.details.reason, a.details.outcome])).toEqual([
      ['settlement.retry', 'escrow not back yet', 'failed'],
      ['settlement.retry', 'escrow restored', 'done'],
    ]);
    expect(trail[0].actor_id).toBeTruthy();

    // No longer failed, the delivery closes with the next sweep as any other.
    await settlement.closeDueWindows(new Date(Date.now() + 3_600_000));
    expect((await t.http.get(`/v1/deliveries/${failing.delivery.id}`).set(bearer(failing.buyer.key)).expect(200)).body).toMatchObject({ status: 'closed', outcome: 'take_or_pay' });
  });

  test('a bad or unknown id is 404, an escrow step is not retryable, and the list filters are validated', async () => {
    const { buyer, delivery } = await trade();
    await admin().get('/v1/admin/settlements/abc').set(bearer(t.adminKey)).expect(404);
    const missing = await admin().get('/v1/admin/settlements/999999999').set(bearer(t.adminKey)).expect(404);
    expect(missing.body.message).toMatch(/no settlement with id 999999999/);
    const escrow = (await stepsOf(delivery.id))[0];
    expect(escrow.kind).toBe('escrow');
    await admin().post(`/v1/admin/settlements/${escrow.id}/retry`).set(bearer(t.adminKey)).send({ reason: 'why not' }).expect(409);
    await admin().post('/v1/admin/settlements/999999999/retry').set(bearer(t.adminKey)).send({ reason: 'why not' }).expect(404);

    const now = Date.now();
    const window = (from: number, to: number) =>
      admin().get(`/v1/admin/settlements?participantId=${buyer.id}&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`).set(bearer(t.adminKey));
    expect((await window(now - 600_000, now + 600_000).expect(200)).body.items.map((s: any) => s.id)).toEqual([escrow.id]);
    expect((await window(now + 600_000, now + 1_200_000).expect(200)).body.items).toEqual([]);
    const backwards = await window(now + 600_000, now).expect(400);
    expect(backwards.body.message).toMatch(/from must not be after to/);
    const bad = await admin().get('/v1/admin/settlements?from=yesterday').set(bearer(t.adminKey)).expect(400);
    expect(bad.body.message).toMatch(/from must be an ISO 8601 time/);
    await admin().get('/v1/admin/settlements?participantId=00000000-0000-4000-8000-000000000000').set(bearer(t.adminKey)).expect(404);
    await admin().get(`/v1/admin/settlements/${escrow.id}`).set(bearer(buyer.key)).expect(403);
  });
});

describe('deliveries for admins (API)', () => {
  test('open, in breach now by the probes, closing while a step waits for a retry, closed in breach; with the close’s evidence', async () => {
    const calm = await trade();
    const down = await trade();
    const list = async (query: string) =>
      (await admin().get(`/v1/admin/deliveries?${query}`).set(bearer(t.adminKey)).expect(200)).body.items.map((d: any) => d.id) as string[];
    expect(await list(`state=open&participantId=${calm.buyer.id}`)).toEqual([calm.delivery.id]);
    expect(await list(`instrument=${symbol}&participantId=${calm.provider.id}`)).toEqual([calm.delivery.id]);
    expect(await list(`state=closed&participantId=${calm.buyer.id}`)).toEqual([]);

    // The down provider's node fails every probe from before the window until now.
    const [node] = await t.dataSource.query(`SELECT id FROM inference_nodes WHERE provider_id = $1`, [down.provider.id]);
    const start = Date.parse(down.delivery.windowStart);
    for (let at = start - 10_000; at <= Date.now(); at += 5_000) {
      await t.dataSource.query(
        `INSERT INTO node_probes (node_id, provider_id, model_class_id, probed_at, ok, status_code, error) VALUES ($1, $2, $3, $4, false, 503, 'down')`,
        [node.id, down.provider.id, modelClassId, new Date(at)],
      );
    }
    const breachNow = await list('state=breach');
    expect(breachNow).toContain(down.delivery.id);
    expect(breachNow).not.toContain(calm.delivery.id);
    const detail = (await admin().get(`/v1/admin/deliveries/${down.delivery.id}`).set(bearer(t.adminKey)).expect(200)).body;
    expect(detail.delivery).toMatchObject({ id: down.delivery.id, phase: 'open', inBreach: true, ordered: 1_000_000, paid: 0, disputed: 0 });
    expect(detail.evidence).toMatchObject({ probes: { breach: true }, requests: { total: 0, bad: 0, breach: false }, breach: true });
    expect(detail.evidence.probes.failedProbes).toBe(detail.evidence.probes.probes);
    expect(detail.probes.length).toBeGreaterThan(0);
    expect(detail.probes[0]).toMatchObject({ nodeId: node.id, ok: false, statusCode: 503, error: 'down' });
    expect(detail.settlements.map((s: any) => s.kind)).toEqual(['escrow']);

    // The calm delivery's close is refused (its escrow moved away): closing, waiting on a retry.
    await moveEscrow(calm.buyer, `drain:${calm.delivery.id}`);
    await settlement.closeDueWindows(new Date(Date.now() + 3_600_000));
    const review = t.app.get(DeliveryReview);
    const later = new Date(Date.now() + 120_000);
    const principal = { participantId: calm.buyer.id, roles: ['admin'], apiKeyId: 'test' } as unknown as Principal;
    const closing = await review.list(principal, { state: 'closing', participantId: calm.buyer.id }, later);
    expect(closing.items).toEqual([expect.objectContaining({ id: calm.delivery.id, phase: 'closing', waitingOn: 'failed_step', failedSteps: 1 })]);
    const failedClose = (await stepsOf(calm.delivery.id)).find((s) => s.kind === 'close');
    expect(failedClose).toMatchObject({ status: 'failed' });

    // The down one closed in breach, as the evidence said; the calm one closes after its retry.
    expect(await list(`state=closed&participantId=${down.buyer.id}`)).toEqual([down.delivery.id]);
    const closedDown = (await admin().get(`/v1/admin/deliveries/${down.delivery.id}`).set(bearer(t.adminKey)).expect(200)).body.delivery;
    expect(closedDown).toMatchObject({ phase: 'closed', outcome: 'breach', inBreach: true, refunded: '0.500000' });
    await moveEscrow(calm.buyer, `restore:${calm.delivery.id}`, true);
    await admin().post(`/v1/admin/settlements/${failedClose.id}/retry`).set(bearer(t.adminKey)).send({ reason: 'escrow restored' }).expect(200);
    expect((await admin().get(`/v1/admin/deliveries/${calm.delivery.id}`).set(bearer(t.adminKey)).expect(200)).body.delivery).toMatchObject({
      phase: 'closed',
      outcome: 'take_or_pay',
      failedSteps: 0,
    });

    await admin().get('/v1/admin/deliveries/not-a-uuid').set(bearer(t.adminKey)).expect(400);
    await admin().get('/v1/admin/deliveries/00000000-0000-4000-8000-000000000000').set(bearer(t.adminKey)).expect(404);
    await admin().get('/v1/admin/deliveries?state=late').set(bearer(t.adminKey)).expect(400);
    await admin().get('/v1/admin/deliveries?instrument=NOPE-SPOT').set(bearer(t.adminKey)).expect(404);
    await admin().get('/v1/admin/deliveries').set(bearer(calm.buyer.key)).expect(403);
  });
});

describe('the console pages', () => {
  test('settlements: the filtered list, a failed step’s page, the Retry form (reason required, CSRF, audited)', async () => {
    const session = await signInToConsole(t);
    const { buyer, provider, delivery } = await trade();
    await usage.record(`u-${delivery.id}`, delivery.id, 400_000n);
    await moveEscrow(buyer, `drain:${delivery.id}`);
    await settlement.payOutVerifiedUsage();
    const failed = (await stepsOf(delivery.id)).find((s) => s.status === 'failed');

    const list = await consoleGet(t, session, `/ops/settlements?status=failed&kind=&participantId=${buyer.id}&from=&to=`).expect(200);
    expect(list.text).toContain(`data-testid="settlement-row" data-id="${failed.id}" data-status="failed"`);
    expect(list.text.match(/data-testid="settlement-row"/g)).toHaveLength(1);
    const bad = await consoleGet(t, session, '/ops/settlements?status=lost').expect(400);
    expect(bad.text).toMatch(/status must be one of: done, failed/);

    const page = await consoleGet(t, session, `/ops/settlements/${failed.id}`).expect(200);
    expect(page.text).toContain('data-testid="retry-form"');
    expect(page.text).toContain('INSUFFICIENT_FUNDS');
    expect(page.text).toContain(`/ops/deliveries/${delivery.id}`);
    expect(page.text).toContain('planned, never made');

    // No reason, or no CSRF token: refused, nothing runs.
    await moveEscrow(buyer, `restore:${delivery.id}`, true);
    await consolePost(t, session, `/ops/settlements/${failed.id}/retry`, { reason: '' }).expect(400);
    await t.http.post(`/ops/settlements/${failed.id}/retry`).set('Cookie', session.cookie).type('form').send({ reason: 'no token' }).expect(403);
    expect(await audits(failed.id)).toEqual([]);
    expect((await balancesOf(t, provider)).available).toBe('99.950000');

    const posted = await consolePost(t, session, `/ops/settlements/${failed.id}/retry`, { reason: 'escrow restored by ops' }).expect(303);
    expect(posted.headers.location).toBe(`/ops/settlements/${failed.id}?retried=done`);
    const after = await consoleGet(t, session, posted.headers.location).expect(200);
    expect(after.text).toContain('Retried: the step ran and is done.');
    expect(after.text).not.toContain('data-testid="retry-form"');
    expect(after.text).toContain(`href="/ops/ledger/transfers/${encodeURIComponent(`payout:${delivery.id}:400000:provider`)}"`);
    expect(after.text).toContain('0.199800');
    expect((await balancesOf(t, provider)).available).toBe('100.149800');
    expect((await audits(failed.id)).map((a: any) => a.details.reason)).toEqual(['escrow restored by ops']);

    // Posting again (a reload, a second tab) moves nothing: a 409 page.
    const twice = await consolePost(t, session, `/ops/settlements/${failed.id}/retry`, { reason: 'again' }).expect(409);
    expect(twice.text).toMatch(/only a failed step can be retried/);
    expect((await balancesOf(t, provider)).available).toBe('100.149800');
    await consoleGet(t, session, '/ops/settlements/424242424242').expect(404);
  });

  test('deliveries: the list by state, one delivery with its tokens, probes and SLA evidence; cursor paging', async () => {
    const session = await signInToConsole(t);
    const { buyer, delivery } = await trade();
    await usage.record(`u-${delivery.id}`, delivery.id, 250_000n);
    await settlement.payOutVerifiedUsage();
    const list = await consoleGet(t, session, `/ops/deliveries?state=open&instrument=&participantId=${buyer.id}`).expect(200);
    expect(list.text).toContain(`data-testid="delivery-row" data-id="${delivery.id}" data-phase="open" data-breach="false"`);
    const page = await consoleGet(t, session, `/ops/deliveries/${delivery.id}`).expect(200);
    expect(page.text).toMatch(/data-testid="tokens-delivered">250000</);
    expect(page.text).toMatch(/data-testid="tokens-paid">250000</);
    expect(page.text).toMatch(/data-testid="evidence-verdict">no breach</);
    expect(page.text).toContain('data-testid="delivery-settlement-row"');
    await consoleGet(t, session, '/ops/deliveries/00000000-0000-4000-8000-000000000000').expect(404);
    await consoleGet(t, session, '/ops/deliveries?state=late').expect(400);

    // Paging: one row a page, the Next link carries the filters and the cursor.
    const first = await consoleGet(t, session, `/ops/deliveries?limit=1&instrument=${symbol}`).expect(200);
    const next = /data-testid="next-page" href="|href="([^"]+)" data-testid="next-page"/.exec(first.text)![1].replaceAll('&amp;', '&');
    expect(next).toContain(`instrument=${symbol}`);
    const second = await consoleGet(t, session, next).expect(200);
    const idOf = (html: string) => /data-testid="delivery-row" data-id="([^"]+)"/.exec(html)![1];
    expect(idOf(second.text)).not.toBe(idOf(first.text));
  });
});
