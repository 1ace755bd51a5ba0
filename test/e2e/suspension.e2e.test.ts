import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { hashApiKey } from '../../src/participants/api-key-secret.js';
import { fundedBuyer, listSpotInstrument } from '../support/market-fixtures.js';
import { meteredDelivery, postUsageBatch, usageRecord } from '../support/metering-fixtures.js';
import { balancesOf, bearer, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';

// Issue 14 item 4: suspension takes effect everywhere.
let t: TestApp;
let symbol: string;
let modelClassId: string;

beforeAll(async () => {
  t = await startTestApp();
  ({ symbol, modelClassId } = await listSpotInstrument(t, 'susp', { spotWindowSeconds: 60 }));
});
afterAll(async () => {
  await t.close();
});

const suspend = (participantId: string) =>
  t.http.post(`/v1/admin/participants/${participantId}/suspend`).set(bearer(t.adminKey)).send({ reason: 'issue 14 test' }).expect(200);

describe("a suspended provider's nodes", () => {
  test('their usage batches are refused with a 403 naming why, and nothing is stored', async () => {
    const { provider, node, deliveryId, keyId } = await meteredDelivery(t, { symbol, modelClassId });
    await postUsageBatch(t, node, [usageRecord(modelClassId, deliveryId, keyId)]).expect(202);
    await suspend(provider.id);
    const refused = await postUsageBatch(t, node, [usageRecord(modelClassId, deliveryId, keyId)], randomUUID()).expect(403);
    expect(refused.body).toMatchObject({ code: 'PARTICIPANT_SUSPENDED', message: expect.stringContaining('suspended') });
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM usage_batches WHERE node_id = $1`, [node.id]);
    expect(n).toBe(1);
  });
});

describe('admins cancel any participant\'s orders', () => {
  const bid = (who: TestParticipant, price: string) =>
    t.http.post('/v1/orders').set(bearer(who.key)).send({ instrument: symbol, side: 'buy', type: 'limit', price, quantity: 1_000_000 }).expect(201);
  const auditsOf = (subjectId: string, action: string) =>
    t.dataSource.query(`SELECT actor_id, action, details FROM audit_events WHERE subject_id = $1 AND action = $2 ORDER BY id`, [subjectId, action]);

  test('one order: cancelled through its book, the hold released, the reason audited', async () => {
    const b = await fundedBuyer(t, '10');
    const placed = await bid(b, '0.300');
    const cancelled = await t.http.post(`/v1/admin/orders/${placed.body.id}/cancel`).set(bearer(t.adminKey)).send({ reason: 'runaway bot' }).expect(200);
    expect(cancelled.body).toMatchObject({ id: placed.body.id, status: 'cancelled', remainingQuantity: 0 });
    expect(await balancesOf(t, b)).toMatchObject({ held: '0.000000', available: '10.000000' });
    const [{ participant_id: admin }] = await t.dataSource.query(`SELECT participant_id FROM api_keys WHERE key_hash = $1`, [hashApiKey(t.adminKey)]);
    expect(await auditsOf(placed.body.id, 'order.admin-cancel')).toEqual([
      { actor_id: admin, action: 'order.admin-cancel', details: { reason: 'runaway bot', participantId: b.id, instrument: symbol } },
    ]);
    // Cancelled once: again is a 404 (no open order), and the book no longer has it.
    await t.http.post(`/v1/admin/orders/${placed.body.id}/cancel`).set(bearer(t.adminKey)).send({ reason: 'again' }).expect(404);
  });

  test("all of a participant's open orders, audited once per book with their ids", async () => {
    const b = await fundedBuyer(t, '10');
    const ids = [(await bid(b, '0.310')).body.id, (await bid(b, '0.320')).body.id];
    const answer = await t.http.post(`/v1/admin/participants/${b.id}/orders/cancel`).set(bearer(t.adminKey)).send({ reason: 'fraud review' }).expect(200);
    expect(answer.body.cancelled.map((o: { id: string }) => o.id).sort()).toEqual([...ids].sort());
    expect((await t.http.get('/v1/orders?status=open').set(bearer(b.key)).expect(200)).body.items).toEqual([]);
    const [event, ...more] = await auditsOf(b.id, 'participant.orders-cancelled');
    expect(more).toEqual([]);
    expect(event).toMatchObject({ action: 'participant.orders-cancelled', details: { reason: 'fraud review', cause: 'admin.cancel', instrument: symbol } });
    expect([...event.details.orderIds].sort()).toEqual([...ids].sort());
  });

  test('only admins, with a reason; an unknown order or participant is a 404', async () => {
    const b = await fundedBuyer(t, '10');
    const placed = await bid(b, '0.330');
    await t.http.post(`/v1/admin/orders/${placed.body.id}/cancel`).set(bearer(b.key)).send({ reason: 'mine' }).expect(403);
    await t.http.post(`/v1/admin/participants/${b.id}/orders/cancel`).set(bearer(b.key)).send({ reason: 'mine' }).expect(403);
    const noReason = await t.http.post(`/v1/admin/orders/${placed.body.id}/cancel`).set(bearer(t.adminKey)).send({}).expect(400);
    expect(noReason.body.message).toMatch(/reason/);
    await t.http.post('/v1/admin/orders/999999999999/cancel').set(bearer(t.adminKey)).send({ reason: 'x' }).expect(404);
    await t.http.post(`/v1/admin/participants/${randomUUID()}/orders/cancel`).set(bearer(t.adminKey)).send({ reason: 'x' }).expect(404);
    expect((await t.http.get(`/v1/orders/${placed.body.id}`).set(bearer(b.key)).expect(200)).body.status).toBe('open');
  });
});
