import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { randomUUID } from 'node:crypto';
import { DeliveryKeyError, verifyDeliveryKey } from '../../src/protocol/delivery-key-verifier.js';
import { VerifiedUsageRepository } from '../../src/metering/verified-usage.repository.js';
import { SettlementService } from '../../src/settlement/settlement.service.js';
import { fundedBuyer, fundedProvider, listSpotInstrument } from '../support/market-fixtures.js';
import { balancesOf, bearer, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';
import { waitFor } from '../support/wait-for.js';

// A spot instrument with a 60 s delivery window; default fees (taker 10 bps, maker 0) and a 10 %
// provider bond. The provider sells into a resting bid, so it is the taker and pays the fee:
// 1,000,000 tokens at 0.500 USD/MTok = 0.500000 USD notional, seller fee 0.000500, bond 0.050000.
let t: TestApp;
let settlement: SettlementService;
let usage: VerifiedUsageRepository;
let modelClassId: string;
let symbol: string;

beforeAll(async () => {
  t = await startTestApp();
  settlement = t.app.get(SettlementService);
  usage = t.app.get(VerifiedUsageRepository);
  ({ symbol, modelClassId } = await listSpotInstrument(t, 'stl', { spotWindowSeconds: 60 }));
});
afterAll(async () => {
  await t.close();
});

// After every step of every test: the ledger sums to zero and equals a rebuild from its transfers.
afterEach(async () => {
  const audit = await t.http.post('/v1/admin/ledger/audit').set(bearer(t.adminKey)).expect(200);
  expect(audit.body).toMatchObject({ sound: true, trialBalance: { balanced: true } });
});

const order = (who: TestParticipant, body: object) => t.http.post('/v1/orders').set(bearer(who.key)).send({ instrument: symbol, ...body });

/** A buyer and a provider (100 USD each) who trade 1,000,000 tokens at 0.500; returns the delivery. */
async function trade(): Promise<{ buyer: TestParticipant; provider: TestParticipant; delivery: any }> {
  const buyer = await fundedBuyer(t, '100');
  const provider = await fundedProvider(t, modelClassId, { cash: '100' });
  await order(buyer, { side: 'buy', type: 'limit', price: '0.500', quantity: 1_000_000 }).expect(201);
  const sell = await order(provider, { side: 'sell', type: 'limit', price: '0.500', quantity: 1_000_000 }).expect(201);
  expect(sell.body.fills).toHaveLength(1);
  const list = await t.http.get('/v1/deliveries').set(bearer(buyer.key)).expect(200);
  expect(list.body.items).toHaveLength(1);
  return { buyer, provider, delivery: list.body.items[0] };
}

/** Settles every window that has ended (all of them: this is long after any test's window). */
const closeWindows = () => settlement.closeDueWindows(new Date(Date.now() + 3_600_000));

const totals = async (who: TestParticipant) => {
  const b = await balancesOf(t, who);
  return { available: b.available, escrow: b.escrow, bond: b.bond };
};

/** The exchange's fees: the sum of the fee account's shards. */
const feesBalance = async (): Promise<bigint> => {
  const [row] = await t.dataSource.query(`SELECT sum(credits_posted - debits_posted)::text AS balance FROM accounts WHERE kind = 'fees' AND participant_id IS NULL`);
  return BigInt(row.balance);
};

describe('the spot path: fill, escrow, verified usage, payout, window close', () => {
  test('a fill creates the delivery in its own transaction: escrow, fees and the bond to the micro-dollar', async () => {
    const fees = await feesBalance();
    const { buyer, provider, delivery } = await trade();
    expect(delivery).toMatchObject({
      instrument: symbol,
      modelClass: modelClassId,
      role: 'buyer',
      buyerId: buyer.id,
      providerId: provider.id,
      price: '0.500',
      ordered: 1_000_000,
      delivered: 0,
      paid: 0,
      disputed: 0,
      remaining: 1_000_000,
      notional: '0.500000',
      escrow: '0.500000',
      status: 'open',
      outcome: null,
    });
    expect(Date.parse(delivery.windowEnd) - Date.parse(delivery.windowStart)).toBe(60_000);
    expect(await totals(buyer)).toEqual({ available: '99.500000', escrow: '0.500000', bond: '0.000000' });
    expect(await totals(provider)).toEqual({ available: '99.950000', escrow: '0.000000', bond: '0.050000' });
    expect(await feesBalance()).toBe(fees); // the buyer was the maker (0 bps); the seller's fee waits for payment
    const steps = await t.http.get(`/v1/settlements?deliveryId=${delivery.id}`).set(bearer(buyer.key)).expect(200);
    expect(steps.body.items).toEqual([
      expect.objectContaining({ kind: 'escrow', tokens: 1_000_000, amounts: { escrow: '0.500000', buyerFee: '0.000000' }, status: 'done' }),
    ]);
    expect(steps.body.items[0].transferIds).toEqual([`fill:${delivery.fillId}:escrow`]);
  });

  test('fully used: verified usage is paid out in batches, each token once, and the close releases the bond', async () => {
    const fees = await feesBalance();
    const { buyer, provider, delivery } = await trade();
    expect(await usage.record(`u1-${delivery.id}`, delivery.id, 300_000n)).toBe(true);
    expect(await usage.record(`u2-${delivery.id}`, delivery.id, 100_000n)).toBe(true);
    expect(await usage.record(`u2-${delivery.id}`, delivery.id, 100_000n)).toBe(false); // the same record again
    await settlement.payOutVerifiedUsage();
    // 400,000 of 1,000,000 tokens: floor(0.4 × 499,500) = 199,800 to the provider, floor(0.4 × 500) = 200 fee.
    expect(await totals(provider)).toEqual({ available: '100.149800', escrow: '0.000000', bond: '0.050000' });
    expect(await totals(buyer)).toMatchObject({ escrow: '0.300000' });
    expect(await feesBalance()).toBe(fees + 200n);
    await usage.record(`u3-${delivery.id}`, delivery.id, 700_000n); // more than is left: capped
    await settlement.payOutVerifiedUsage();
    expect(await totals(provider)).toEqual({ available: '100.449500', escrow: '0.000000', bond: '0.050000' });
    await closeWindows();
    const closed = (await t.http.get(`/v1/deliveries/${delivery.id}`).set(bearer(provider.key)).expect(200)).body;
    expect(closed).toMatchObject({ role: 'provider', status: 'closed', outcome: 'delivered', delivered: 1_100_000, paid: 1_000_000, remaining: 0, escrow: '0.000000', providerPaid: '0.499500' });
    expect(await totals(provider)).toEqual({ available: '100.499500', escrow: '0.000000', bond: '0.000000' });
    expect(await totals(buyer)).toEqual({ available: '99.500000', escrow: '0.000000', bond: '0.000000' });
    // The exchange's fee from this delivery: 200 + 300 micro-USD, all of the seller's 0.000500.
    const fromThis = (await t.http.get(`/v1/settlements?deliveryId=${delivery.id}`).set(bearer(provider.key)).expect(200)).body.items;
    expect(fromThis.reduce((sum: number, s: any) => sum + Number(s.amounts.providerFee ?? 0) * 1e6, 0)).toBe(500);
    expect(await feesBalance()).toBeGreaterThanOrEqual(fees + 500n);
    // This process's settlement batches credit its one fee account shard (LedgerService.feeAccount).
    const credited = await t.dataSource.query(
      `SELECT a.kind, a.shard FROM transfers t JOIN accounts a ON a.id = t.credit_account_id WHERE t.id = ANY($1)`,
      [[`payout:${delivery.id}:400000:fee`, `payout:${delivery.id}:1000000:fee`]],
    );
    expect(credited).toHaveLength(2);
    expect(credited[0]).toEqual(credited[1]);
    expect(credited[0].kind).toBe('fees');
    const kinds = (await t.http.get(`/v1/settlements?deliveryId=${delivery.id}`).set(bearer(buyer.key)).expect(200)).body.items.map((s: any) => [s.kind, s.tokens]);
    expect(kinds).toEqual([
      ['close', 0],
      ['payout', 600_000],
      ['payout', 400_000],
      ['escrow', 1_000_000],
    ]);
  });

  test('unused: take-or-pay pays the provider for the reserved capacity at the close', async () => {
    const { buyer, provider, delivery } = await trade();
    await usage.record(`u1-${delivery.id}`, delivery.id, 250_000n);
    await closeWindows(); // pays the usage first, then the rest
    const closed = (await t.http.get(`/v1/deliveries/${delivery.id}`).set(bearer(buyer.key)).expect(200)).body;
    expect(closed).toMatchObject({ status: 'closed', outcome: 'take_or_pay', delivered: 250_000, paid: 1_000_000, escrow: '0.000000', providerPaid: '0.499500', refunded: '0.000000' });
    expect(await totals(provider)).toEqual({ available: '100.499500', escrow: '0.000000', bond: '0.000000' });
    expect(await totals(buyer)).toEqual({ available: '99.500000', escrow: '0.000000', bond: '0.000000' });
    const close = (await t.http.get(`/v1/settlements?deliveryId=${delivery.id}&kind=close`).set(bearer(provider.key)).expect(200)).body.items[0];
    expect(close).toMatchObject({ tokens: 750_000, amounts: { providerPayout: '0.374625', providerFee: '0.000375', buyerRefund: '0.000000', penalty: '0.000000', bondReleased: '0.050000' } });
    expect(close.transferIds).toEqual([`close:${delivery.id}:provider`, `close:${delivery.id}:fee`, `close:${delivery.id}:bond`]);
  });

  test('a delivery whose steps keep failing with a database error holds back no other: the sweep leaves it for the next one', async () => {
    const poisoned = await trade();
    const healthy = await trade();
    // Any error that is not the ledger's refusal: here a trigger refusing the poisoned delivery's settlement rows.
    await t.dataSource.query(`CREATE FUNCTION poison_settlement() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.delivery_id = '${poisoned.delivery.id}' THEN RAISE EXCEPTION 'poisoned delivery'; END IF; RETURN NEW; END $$`);
    await t.dataSource.query(`CREATE TRIGGER poison_settlement BEFORE INSERT ON settlements FOR EACH ROW EXECUTE FUNCTION poison_settlement()`);
    const status = async (d: { buyer: TestParticipant; delivery: { id: string } }) =>
      (await t.http.get(`/v1/deliveries/${d.delivery.id}`).set(bearer(d.buyer.key)).expect(200)).body.status;
    const steps = async () =>
      (await t.dataSource.query(`SELECT kind, status FROM settlements WHERE delivery_id = $1 ORDER BY kind`, [poisoned.delivery.id])) as Array<{ kind: string; status: string }>;
    const before = await steps(); // the escrow step, recorded with the fill
    try {
      await closeWindows();
      expect(await status(healthy)).toBe('closed');
      expect(await status(poisoned)).toBe('open');
      // Not a refusal: nothing recorded, nothing failed, so the next sweep runs it again by itself.
      expect(await steps()).toEqual(before);
      const metrics = (await t.http.get('/metrics').expect(200)).text;
      expect(Number(/^tokex_settlement_steps_passed_over_total\{step="close"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    } finally {
      await t.dataSource.query(`DROP TRIGGER poison_settlement ON settlements`);
      await t.dataSource.query(`DROP FUNCTION poison_settlement()`);
    }
    await closeWindows();
    expect(await status(poisoned)).toBe('closed');
  });

  test("provider breach: the node failed the exchange's probes, so the buyer is refunded and paid a penalty from the bond", async () => {
    const { buyer, provider, delivery } = await trade();
    await usage.record(`u1-${delivery.id}`, delivery.id, 400_000n);
    await settlement.payOutVerifiedUsage();
    // The provider's only node failed every probe through the window.
    const [node] = await t.dataSource.query(`SELECT id FROM inference_nodes WHERE provider_id = $1`, [provider.id]);
    const start = Date.parse(delivery.windowStart);
    for (let at = start - 10_000; at < start + 60_000; at += 10_000) {
      await t.dataSource.query(
        `INSERT INTO node_probes (node_id, provider_id, model_class_id, probed_at, ok, status_code, error) VALUES ($1, $2, $3, $4, false, 503, 'down')`,
        [node.id, provider.id, modelClassId, new Date(at)],
      );
    }
    await closeWindows();
    // Undelivered escrow 0.300000 back to the buyer, plus 10 % of it (0.030000) from the bond.
    const closed = (await t.http.get(`/v1/deliveries/${delivery.id}`).set(bearer(buyer.key)).expect(200)).body;
    expect(closed).toMatchObject({ status: 'closed', outcome: 'breach', paid: 400_000, escrow: '0.000000', refunded: '0.300000', penalty: '0.030000', providerPaid: '0.199800' });
    expect(await totals(buyer)).toEqual({ available: '99.830000', escrow: '0.000000', bond: '0.000000' });
    expect(await totals(provider)).toEqual({ available: '100.169800', escrow: '0.000000', bond: '0.000000' });
  });

  test('one close sweep judges each delivery on its own evidence: a sick provider breaches, a healthy one is paid', async () => {
    const sick = await trade();
    const healthy = await trade();
    const [node] = await t.dataSource.query(`SELECT id FROM inference_nodes WHERE provider_id = $1`, [sick.provider.id]);
    const start = Date.parse(sick.delivery.windowStart);
    for (let at = start - 10_000; at < start + 60_000; at += 10_000) {
      await t.dataSource.query(
        `INSERT INTO node_probes (node_id, provider_id, model_class_id, probed_at, ok, status_code, error) VALUES ($1, $2, $3, $4, false, 503, 'down')`,
        [node.id, sick.provider.id, modelClassId, new Date(at)],
      );
    }
    expect(await closeWindows()).toBeGreaterThanOrEqual(2); // both in one batch (up to 200 a transaction)
    const outcome = async (who: TestParticipant, id: string) => (await t.http.get(`/v1/deliveries/${id}`).set(bearer(who.key)).expect(200)).body.outcome;
    expect(await outcome(sick.buyer, sick.delivery.id)).toBe('breach');
    expect(await outcome(healthy.buyer, healthy.delivery.id)).toBe('take_or_pay');
  });

  test('every step run twice and out of order changes nothing the second time', async () => {
    const { provider, delivery } = await trade();
    await usage.record(`u1-${delivery.id}`, delivery.id, 100_000n);
    const snapshot = async () => ({
      provider: await totals(provider),
      transfers: (await t.dataSource.query(`SELECT count(*)::int AS n FROM transfers`))[0].n,
      settlements: (await t.dataSource.query(`SELECT count(*)::int AS n FROM settlements WHERE delivery_id = $1`, [delivery.id]))[0].n,
    });
    await Promise.all([settlement.payOutVerifiedUsage(), settlement.payOutVerifiedUsage()]);
    const paid = await snapshot();
    expect(paid.provider.available).toBe('99.999950'); // 99.950000 + floor(0.1 × 499,500) micro-USD
    await settlement.payOutVerifiedUsage();
    expect(await snapshot()).toEqual(paid);
    await Promise.all([closeWindows(), closeWindows()]);
    const closed = await snapshot();
    await closeWindows();
    await settlement.payOutVerifiedUsage();
    expect(await snapshot()).toEqual(closed);
    expect(closed.settlements).toBe(3); // escrow, payout, close
  });
});

describe('who sees what', () => {
  test('a delivery and its settlements are visible to its buyer and provider only; an admin filters them all', async () => {
    const { buyer, provider, delivery } = await trade();
    const stranger = await fundedBuyer(t, '1');
    await t.http.get(`/v1/deliveries/${delivery.id}`).set(bearer(stranger.key)).expect(404);
    expect((await t.http.get('/v1/deliveries').set(bearer(stranger.key)).expect(200)).body.items).toEqual([]);
    expect((await t.http.get(`/v1/settlements?deliveryId=${delivery.id}`).set(bearer(stranger.key)).expect(200)).body.items).toEqual([]);
    expect((await t.http.get('/v1/deliveries?as=provider').set(bearer(provider.key)).expect(200)).body.items.map((d: any) => d.id)).toEqual([delivery.id]);
    expect((await t.http.get('/v1/deliveries?as=provider').set(bearer(buyer.key)).expect(200)).body.items).toEqual([]);
    await t.http.get('/v1/deliveries/not-a-uuid').set(bearer(buyer.key)).expect(400);
    const admin = await t.http.get(`/v1/admin/settlements?participantId=${provider.id}&kind=escrow`).set(bearer(t.adminKey)).expect(200);
    expect(admin.body.items.map((s: any) => s.deliveryId)).toEqual([delivery.id]);
    await t.http.get('/v1/admin/settlements').set(bearer(buyer.key)).expect(403);
    await t.http.get('/v1/admin/settlements?kind=refund').set(bearer(t.adminKey)).expect(400);
  });
});

describe('delivery keys', () => {
  test('the buyer gets a key that a node verifies offline against the JWKS, until it is revoked', async () => {
    const { buyer, provider, delivery } = await trade();
    const issued = await t.http.post(`/v1/deliveries/${delivery.id}/keys`).set(bearer(buyer.key)).send({}).expect(201);
    expect(issued.body.expiresAt).toBe(new Date(Math.floor(Date.parse(delivery.windowEnd) / 1000) * 1000).toISOString());
    const jwks = (await t.http.get('/v1/.well-known/jwks.json').expect(200)).body;
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: expect.any(String), alg: 'EdDSA', use: 'sig' });
    const claims = await verifyDeliveryKey(issued.body.token, jwks, { providerId: provider.id, deliveryId: delivery.id });
    expect(claims).toMatchObject({ keyId: issued.body.id, deliveryId: delivery.id, buyerId: buyer.id, providerId: provider.id, modelClassId, kind: 'buyer' });
    // The published v1 claims: the delivery is the subject, the provider the audience.
    expect(decodeProtectedHeader(issued.body.token)).toEqual({ alg: 'EdDSA', kid: expect.any(String), typ: 'JWT' });
    expect(decodeJwt(issued.body.token)).toMatchObject({ iss: 'tokex', sub: delivery.id, aud: provider.id, jti: issued.body.id, buy: buyer.id, mdl: modelClassId, knd: 'buyer' });
    const other = await verifyDeliveryKey(issued.body.token, jwks, { providerId: buyer.id, deliveryId: delivery.id }).catch((e: unknown) => e);
    expect((other as DeliveryKeyError).reason).toBe('wrong_provider');

    // Only the buyer: the provider has the wrong role, a stranger cannot see the delivery.
    await t.http.post(`/v1/deliveries/${delivery.id}/keys`).set(bearer(provider.key)).send({}).expect(403);
    await t.http.post(`/v1/deliveries/${delivery.id}/keys`).set(bearer((await fundedBuyer(t, '1')).key)).send({}).expect(404);
    await t.http.post(`/v1/deliveries/${delivery.id}/keys`).set(bearer(buyer.key)).send({ expiresInSeconds: 5 }).expect(400);

    await t.http.delete(`/v1/deliveries/${delivery.id}/keys/${issued.body.id}`).set(bearer(buyer.key)).expect(204);
    const list = (await t.http.get('/v1/delivery-keys/revoked').expect(200)).body; // public: no key
    expect(list.revoked).toContainEqual({ jti: issued.body.id, exp: Date.parse(issued.body.expiresAt) / 1000 });
    const revoked = list.revoked.map((k: { jti: string }) => k.jti);
    const refusal = await verifyDeliveryKey(issued.body.token, jwks, { providerId: provider.id, deliveryId: delivery.id, isRevoked: (id) => revoked.includes(id) }).catch(
      (e: unknown) => e,
    );
    expect(refusal).toBeInstanceOf(DeliveryKeyError);
    expect((refusal as DeliveryKeyError).reason).toBe('revoked');
    const keys = (await t.http.get(`/v1/deliveries/${delivery.id}/keys`).set(bearer(buyer.key)).expect(200)).body;
    expect(keys).toEqual([expect.objectContaining({ id: issued.body.id, revokedAt: expect.any(String) })]);
    await t.http.delete(`/v1/deliveries/${delivery.id}/keys/${randomUUID()}`).set(bearer(buyer.key)).expect(404);
  });

  test('no key for a closed window', async () => {
    const { buyer, delivery } = await trade();
    await closeWindows();
    const refused = await t.http.post(`/v1/deliveries/${delivery.id}/keys`).set(bearer(buyer.key)).send({}).expect(422);
    expect(refused.body.code).toBe('DELIVERY_WINDOW_CLOSED');
  });
});

describe('the settlement worker', () => {
  test('pays out verified usage on its own schedule, in a process with workers', async () => {
    const worker = await startTestApp({ SETTLEMENT_PAYOUT_INTERVAL_MS: '100', LEDGER_CHECK_INTERVAL_MS: '3600000' }, 'all');
    try {
      const { provider, delivery } = await trade();
      await worker.app.get(VerifiedUsageRepository).record(`u1-${delivery.id}`, delivery.id, 1_000_000n);
      await waitFor('the payout', async () => ((await totals(provider)).available === '100.449500' ? true : undefined));
    } finally {
      await worker.close();
    }
  });
});
