import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { fundedBuyer, fundedProvider, listSpotInstrument } from '../support/market-fixtures.js';
import { consoleGet, consolePost, signInToConsole, type ConsoleSession } from '../support/ops-console.js';
import { balancesOf, bearer, countRows, createParticipant, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';

// Participants in the admin API and on the ops console: create, roles, keys, and suspension, which
// refuses the keys, disables the nodes and cancels every open order through the books' gateway.
let t: TestApp;
let spot: Array<{ symbol: string; modelClassId: string }>;
let session: ConsoleSession;

beforeAll(async () => {
  t = await startTestApp();
  spot = [await listSpotInstrument(t, 'opp'), await listSpotInstrument(t, 'opq')];
  session = await signInToConsole(t);
});
afterAll(async () => {
  await t.close();
});

const admin = () => bearer(t.adminKey);
const rest = (who: TestParticipant, instrument: string, side: 'buy' | 'sell', price: string) =>
  t.http.post('/v1/orders').set(bearer(who.key)).send({ instrument, side, type: 'limit', price, quantity: 1000 }).expect(201);
const openOrdersOf = async (id: string): Promise<string[]> =>
  (await t.dataSource.query(`SELECT id::text FROM orders WHERE participant_id = $1 AND status = 'open' ORDER BY id`, [id])).map((r: { id: string }) => r.id);
const lastAudit = async (action: string, subjectId: string) =>
  (await t.dataSource.query(`SELECT actor_id, details FROM audit_events WHERE action = $1 AND subject_id = $2 ORDER BY id DESC LIMIT 1`, [action, subjectId]))[0];

/** A buyer resting on both instruments and a provider (with a node) resting a sell. */
async function tradersWithRestingOrders(): Promise<{ buyer: TestParticipant; provider: TestParticipant; buyerOrders: string[] }> {
  const buyer = await fundedBuyer(t, '100');
  const provider = await fundedProvider(t, spot[0].modelClassId);
  const buyerOrders = [(await rest(buyer, spot[0].symbol, 'buy', '0.010')).body.id, (await rest(buyer, spot[1].symbol, 'buy', '0.020')).body.id];
  await rest(provider, spot[0].symbol, 'sell', '0.900');
  return { buyer, provider, buyerOrders };
}

describe('admin API: suspend and resume', () => {
  test('suspending cancels open orders on every instrument, disables nodes, refuses keys; resuming restores the status only', async () => {
    const { buyer, provider, buyerOrders } = await tradersWithRestingOrders();
    expect((await balancesOf(t, buyer)).held).not.toBe('0.000000');

    const suspended = await t.http.post(`/v1/admin/participants/${buyer.id}/suspend`).set(admin()).send({ reason: 'chargeback fraud' }).expect(200);
    expect(suspended.body.participant).toMatchObject({ id: buyer.id, status: 'suspended' });
    expect([...suspended.body.cancelledOrderIds].sort()).toEqual([...buyerOrders].sort());
    expect(await openOrdersOf(buyer.id)).toEqual([]);
    expect((await t.http.get('/v1/me').set(bearer(buyer.key)).expect(403)).body.code).toBe('PARTICIPANT_SUSPENDED');
    const [{ held }] = await t.dataSource.query(`SELECT debits_pending::text AS held FROM accounts WHERE participant_id = $1 AND kind = 'available'`, [buyer.id]);
    expect(held).toBe('0');
    expect(await lastAudit('participant.suspend', buyer.id)).toMatchObject({ details: { reason: 'chargeback fraud', status: 'suspended' } });
    expect((await lastAudit('participant.orders-cancelled', buyer.id)).details).toMatchObject({ reason: 'chargeback fraud', orderIds: expect.arrayContaining(buyerOrders) });

    const providerSuspended = await t.http.post(`/v1/admin/participants/${provider.id}/suspend`).set(admin()).send({ reason: 'node fraud' }).expect(200);
    expect(providerSuspended.body.disabledNodeIds).toHaveLength(1);
    expect(providerSuspended.body.cancelledOrderIds).toHaveLength(1);
    const [node] = await t.dataSource.query(`SELECT id, status FROM inference_nodes WHERE provider_id = $1`, [provider.id]);
    expect(node).toEqual({ id: providerSuspended.body.disabledNodeIds[0], status: 'disabled' });
    expect((await lastAudit('participant.suspend', provider.id)).details.disabledNodeIds).toEqual([node.id]);

    const resumed = await t.http.post(`/v1/admin/participants/${provider.id}/resume`).set(admin()).send({ reason: 'cleared' }).expect(200);
    expect(resumed.body).toMatchObject({ participant: { status: 'active' }, disabledNodeIds: [], cancelledOrderIds: [] });
    await t.http.get('/v1/me').set(bearer(provider.key)).expect(200);
    expect((await t.dataSource.query(`SELECT status FROM inference_nodes WHERE id = $1`, [node.id]))[0].status).toBe('disabled');
    expect(await openOrdersOf(provider.id)).toEqual([]);
    expect(await lastAudit('participant.resume', provider.id)).toMatchObject({ details: { reason: 'cleared', status: 'active' } });
  });

  test('PATCH /v1/participants/:id with status suspended does the same, and needs a reason', async () => {
    const { buyer } = await tradersWithRestingOrders();
    const refused = await t.http.patch(`/v1/participants/${buyer.id}`).set(admin()).send({ status: 'suspended' }).expect(400);
    expect(refused.body.message).toContain('reason');
    expect(await openOrdersOf(buyer.id)).toHaveLength(2);
    await t.http.patch(`/v1/participants/${buyer.id}`).set(admin()).send({ status: 'suspended', reason: 'ticket 12' }).expect(200);
    expect(await openOrdersOf(buyer.id)).toEqual([]);
  });

  test('bad input: 400 naming the field; unknown participant 404; another role 403; an admin cannot suspend itself', async () => {
    const buyer = await createParticipant(t, ['buyer']);
    for (const body of [{}, { reason: '   ' }, { reason: 'x'.repeat(501) }, { reason: 'ok', extra: 1 }]) {
      const response = await t.http.post(`/v1/admin/participants/${buyer.id}/suspend`).set(admin()).send(body).expect(400);
      expect(response.body.message).toMatch(/reason|extra/);
    }
    expect((await t.http.get('/v1/me').set(bearer(buyer.key)).expect(200)).body.status).toBe('active');
    const missing = await t.http.post('/v1/admin/participants/00000000-0000-4000-8000-000000000000/suspend').set(admin()).send({ reason: 'x' }).expect(404);
    expect(missing.body.code).toBe('PARTICIPANT_NOT_FOUND');
    await t.http.post('/v1/admin/participants/nope/suspend').set(admin()).send({ reason: 'x' }).expect(400);
    await t.http.post(`/v1/admin/participants/${buyer.id}/suspend`).set(bearer(buyer.key)).send({ reason: 'x' }).expect(403);
    const self = await createParticipant(t, ['admin']);
    expect((await t.http.post(`/v1/admin/participants/${self.id}/suspend`).set(bearer(self.key)).send({ reason: 'x' }).expect(409)).body.code).toBe('CANNOT_SUSPEND_SELF');
  });
});

describe('admin API: create, roles, keys, reads', () => {
  test('create with a reason; change roles; a key created and revoked, each in the audit trail', async () => {
    const created = await t.http.post('/v1/admin/participants').set(admin()).send({ name: 'Desk A', roles: ['buyer'], reason: 'onboarding' }).expect(201);
    const id = created.body.participant.id;
    expect(created.body.apiKey.key).toMatch(/^tkx_/);
    expect(await lastAudit('participant.create', id)).toMatchObject({ details: { reason: 'onboarding', roles: ['buyer'] } });

    const roles = await t.http.put(`/v1/admin/participants/${id}/roles`).set(admin()).send({ roles: ['buyer', 'provider'], reason: 'now sells too' }).expect(200);
    expect(roles.body.participant.roles).toEqual(['buyer', 'provider']);
    expect((await t.http.get('/v1/me').set(bearer(created.body.apiKey.key)).expect(200)).body.roles).toEqual(['buyer', 'provider']);
    expect(await lastAudit('participant.roles', id)).toMatchObject({ details: { reason: 'now sells too', roles: ['buyer', 'provider'] } });
    await t.http.put(`/v1/admin/participants/${id}/roles`).set(admin()).send({ roles: ['trader'], reason: 'x' }).expect(400);
    await t.http.put(`/v1/admin/participants/${id}/roles`).set(admin()).send({ roles: ['buyer'] }).expect(400);
    const me = await createParticipant(t, ['admin']);
    expect((await t.http.put(`/v1/admin/participants/${me.id}/roles`).set(bearer(me.key)).send({ roles: ['buyer'], reason: 'x' }).expect(409)).body.code).toBe('CANNOT_DEMOTE_SELF');

    const key = await t.http.post(`/v1/admin/participants/${id}/api-keys`).set(admin()).send({ label: 'bot', reason: 'their bot' }).expect(201);
    expect(key.body).toMatchObject({ participantId: id, label: 'bot', key: expect.stringMatching(/^tkx_/) });
    expect(await lastAudit('api-key.create', key.body.id)).toMatchObject({ details: { reason: 'their bot', participantId: id } });
    await t.http.post(`/v1/admin/participants/${id}/api-keys`).set(admin()).send({ label: 'bot' }).expect(400);
    await t.http.post(`/v1/admin/api-keys/${key.body.id}/revoke`).set(admin()).send({}).expect(400);
    await t.http.get('/v1/me').set(bearer(key.body.key)).expect(200);
    const revoked = await t.http.post(`/v1/admin/api-keys/${key.body.id}/revoke`).set(admin()).send({ reason: 'leaked' }).expect(200);
    expect(revoked.body.revokedAt).not.toBeNull();
    await t.http.get('/v1/me').set(bearer(key.body.key)).expect(401);
    expect(await lastAudit('api-key.revoke', key.body.id)).toMatchObject({ details: { reason: 'leaked', participantId: id } });
    await t.http.post('/v1/admin/api-keys/00000000-0000-4000-8000-000000000000/revoke').set(admin()).send({ reason: 'x' }).expect(404);
  });

  test('a participant with its balances as /v1/me gives them, its orders, and the list filtered by role, status and name', async () => {
    const { buyer } = await tradersWithRestingOrders();
    const [me, seen] = await Promise.all([t.http.get('/v1/me').set(bearer(buyer.key)).expect(200), t.http.get(`/v1/admin/participants/${buyer.id}`).set(admin()).expect(200)]);
    expect(seen.body).toEqual(me.body);
    const orders = await t.http.get(`/v1/admin/participants/${buyer.id}/orders?status=open`).set(admin()).expect(200);
    expect(orders.body.items).toHaveLength(2);
    await t.http.get('/v1/admin/participants/00000000-0000-4000-8000-000000000000/orders').set(admin()).expect(404);
    await t.http.get(`/v1/admin/participants/${buyer.id}/orders`).set(bearer(buyer.key)).expect(403);

    const unique = `Zebra ${Date.now()}`;
    const named = await createParticipant(t, ['provider'], unique);
    const byName = await t.http.get(`/v1/participants?name=${encodeURIComponent(unique.toLowerCase())}`).set(admin()).expect(200);
    expect(byName.body.items.map((p: { id: string }) => p.id)).toEqual([named.id]);
    const providers = await t.http.get('/v1/participants?role=provider&limit=1000').set(admin()).expect(200);
    expect(providers.body.items.every((p: { roles: string[] }) => p.roles.includes('provider'))).toBe(true);
    await t.http.post(`/v1/admin/participants/${named.id}/suspend`).set(admin()).send({ reason: 'x' }).expect(200);
    const suspended = await t.http.get('/v1/participants?status=suspended&limit=1000').set(admin()).expect(200);
    expect(suspended.body.items.map((p: { id: string }) => p.id)).toContain(named.id);
    expect(suspended.body.items.every((p: { status: string }) => p.status === 'suspended')).toBe(true);
    expect((await t.http.get('/v1/participants?role=trader').set(admin()).expect(400)).body.message).toContain('role');
  });
});

describe('console: participants', () => {
  test('the list pages with filters; an empty filter is no filter', async () => {
    const unique = `Console Co ${Date.now()}`;
    const who = await createParticipant(t, ['buyer'], unique);
    const page = await consoleGet(t, session, '/ops/participants?role=&status=&name=').expect(200);
    expect(page.text).toContain('data-testid="participant-row"');
    const filtered = await consoleGet(t, session, `/ops/participants?role=buyer&status=active&name=${encodeURIComponent(unique)}`).expect(200);
    expect(filtered.text.match(/data-testid="participant-row"/g)).toHaveLength(1);
    expect(filtered.text).toContain(`href="/ops/participants/${who.id}"`);
    const first = await consoleGet(t, session, '/ops/participants?limit=1').expect(200);
    const next = /href="([^"]+)" data-testid="next-page"/.exec(first.text)![1].replace(/&amp;/g, '&');
    const second = await consoleGet(t, session, next).expect(200);
    expect(second.text).toContain('data-testid="participant-row"');
    await consoleGet(t, session, '/ops/participants?status=banned').expect(400);
  });

  test('creating a participant answers with its first key, once, on the page (201, not stored, not in a URL)', async () => {
    const before = await countRows(t, 'participants');
    const refused = await consolePost(t, session, '/ops/participants', { name: 'No Reason Ltd', roles: 'buyer', reason: '' }).expect(400);
    expect(refused.text).toContain('reason');
    await consolePost(t, session, '/ops/participants', { name: '', roles: 'buyer', reason: 'x' }).expect(400);
    expect(await countRows(t, 'participants')).toBe(before);

    const created = await consolePost(t, session, '/ops/participants', { name: 'Form Ltd', roles: 'buyer', reason: 'signed the contract' }).expect(201);
    expect(created.headers['cache-control']).toBe('no-store');
    expect(created.headers.location).toBeUndefined();
    const key = /data-testid="new-api-key">([^<]+)</.exec(created.text)![1];
    expect(created.text).toContain('will not be shown again');
    const me = await t.http.get('/v1/me').set(bearer(key)).expect(200);
    expect(me.body).toMatchObject({ name: 'Form Ltd', roles: ['buyer'] });
    expect(await lastAudit('participant.create', me.body.id)).toMatchObject({ actor_id: expect.any(String), details: { reason: 'signed the contract' } });
    // Several checkboxes post a list.
    const both = await consolePost(t, session, '/ops/participants', { name: 'Both Ltd', roles: ['buyer', 'provider'], reason: 'x' } as never).expect(201);
    const bothKey = /data-testid="new-api-key">([^<]+)</.exec(both.text)![1];
    expect((await t.http.get('/v1/me').set(bearer(bothKey)).expect(200)).body.roles).toEqual(['buyer', 'provider']);
  });

  test("a participant's page shows its balances as /v1/me does, its open orders, keys and nodes; unknown ids are 404", async () => {
    const { provider } = await tradersWithRestingOrders();
    const page = await consoleGet(t, session, `/ops/participants/${provider.id}`).expect(200);
    const balances = await balancesOf(t, provider);
    for (const kind of ['available', 'held', 'escrow', 'bond', 'margin']) {
      expect(page.text).toContain(`data-testid="balance-${kind}">${balances[kind]}<`);
    }
    expect(page.text.match(/data-testid="open-order-row"/g)).toHaveLength(1);
    expect(page.text.match(/data-testid="api-key-row"/g)).toHaveLength(1);
    expect(page.text).toMatch(/data-testid="node-status" class="good">enabled</);
    expect(page.text).toContain('data-testid="suspend-button"');
    expect((await consoleGet(t, session, '/ops/participants/00000000-0000-4000-8000-000000000000').expect(404)).text).toContain('PARTICIPANT_NOT_FOUND');
    expect((await consoleGet(t, session, '/ops/participants/nope').expect(404)).text).toContain('no such participant');
  });

  test('the suspend form cancels its open orders and disables its nodes; the page shows them cancelled; resume restores the status only', async () => {
    const { provider } = await tradersWithRestingOrders();
    await consolePost(t, session, `/ops/participants/${provider.id}/suspend`, { reason: '' }).expect(400);
    expect(await openOrdersOf(provider.id)).toHaveLength(1);

    const done = await consolePost(t, session, `/ops/participants/${provider.id}/suspend`, { reason: 'wash trading' }).expect(303);
    expect(done.headers.location).toBe(`/ops/participants/${provider.id}?done=suspended&cancelled=1&disabled=1`);
    const page = await consoleGet(t, session, done.headers.location).expect(200);
    expect(page.text).toContain('1 open order(s) cancelled, 1 node(s) disabled');
    expect(page.text).toMatch(/data-testid="participant-status" class="bad">suspended</);
    expect(page.text).toContain('data-testid="no-open-orders"');
    expect(page.text).toMatch(/data-testid="order-status">cancelled</);
    expect(page.text).toMatch(/data-testid="node-status" class="bad">disabled</);
    expect(page.text).toContain('data-testid="resume-button"');
    expect(await lastAudit('participant.suspend', provider.id)).toMatchObject({ details: { reason: 'wash trading' } });

    const resumed = await consolePost(t, session, `/ops/participants/${provider.id}/resume`, { reason: 'appeal upheld' }).expect(303);
    const after = await consoleGet(t, session, resumed.headers.location).expect(200);
    expect(after.text).toContain('Its nodes stay disabled');
    expect(after.text).toMatch(/data-testid="participant-status" class="good">active</);
    await t.http.get('/v1/me').set(bearer(provider.key)).expect(200);
  });

  test('roles, a new key (shown once on the answer) and revoking it, each with a reason', async () => {
    const who = await createParticipant(t, ['buyer']);
    await consolePost(t, session, `/ops/participants/${who.id}/roles`, { roles: 'provider', reason: '' }).expect(400);
    const roles = await consolePost(t, session, `/ops/participants/${who.id}/roles`, { roles: 'provider', reason: 'switched sides' }).expect(303);
    expect((await consoleGet(t, session, roles.headers.location).expect(200)).text).toMatch(/data-testid="participant-roles">provider</);

    const created = await consolePost(t, session, `/ops/participants/${who.id}/api-keys`, { label: '', reason: 'second desk' }).expect(201);
    const key = /data-testid="new-api-key">([^<]+)</.exec(created.text)![1];
    await t.http.get('/v1/me').set(bearer(key)).expect(200);
    const [{ id: keyId }] = await t.dataSource.query(`SELECT id FROM api_keys WHERE participant_id = $1 ORDER BY created_at DESC LIMIT 1`, [who.id]);
    const page = await consoleGet(t, session, `/ops/participants/${who.id}`).expect(200);
    expect(page.text).not.toContain(key);

    await consolePost(t, session, `/ops/api-keys/${keyId}/revoke`, { reason: '' }).expect(400);
    const revoked = await consolePost(t, session, `/ops/api-keys/${keyId}/revoke`, { reason: 'desk closed' }).expect(303);
    expect(revoked.headers.location).toBe(`/ops/participants/${who.id}?done=revoked`);
    await t.http.get('/v1/me').set(bearer(key)).expect(401);
    await consolePost(t, session, '/ops/api-keys/nope/revoke', { reason: 'x' }).expect(404);
  });
});
