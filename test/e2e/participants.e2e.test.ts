import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { bearer, countRows, createParticipant, startTestApp, type TestApp } from '../support/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('participants and API keys', () => {
  test('an admin creates a participant; the answer carries its first key, shown once', async () => {
    const response = await t.http.post('/v1/participants').set(bearer(t.adminKey)).send({ name: 'Acme GPU', roles: ['provider'] }).expect(201);
    const { participant, apiKey } = response.body;
    expect(participant).toMatchObject({ name: 'Acme GPU', roles: ['provider'], status: 'active' });
    expect(apiKey.key).toMatch(/^tkx_[A-Za-z0-9_-]{43}$/);
    expect(apiKey.key.startsWith(apiKey.prefix)).toBe(true);

    const me = await t.http.get('/v1/me').set(bearer(apiKey.key)).expect(200);
    expect(me.body).toMatchObject({ id: participant.id, roles: ['provider'] });
    expect(me.body.balances).toEqual({ available: '0.000000', held: '0.000000', escrow: '0.000000', margin: '0.000000', bond: '0.000000' });

    // The key is never shown again: listings carry only its prefix, and only its hash is stored.
    const keys = await t.http.get(`/v1/participants/${participant.id}/api-keys`).set(bearer(apiKey.key)).expect(200);
    expect(keys.body.items).toHaveLength(1);
    expect(keys.body.items[0]).not.toHaveProperty('key');
    const [stored] = await t.dataSource.query(`SELECT key_hash, prefix FROM api_keys WHERE id = $1`, [apiKey.id]);
    expect(stored.key_hash).toHaveLength(32);
    expect(JSON.stringify(stored)).not.toContain(apiKey.key);
  });

  test('a participant holds several keys, rotates them, and revoked keys stop working at once', async () => {
    const buyer = await createParticipant(t, ['buyer']);
    const second = await t.http.post(`/v1/participants/${buyer.id}/api-keys`).set(bearer(buyer.key)).send({ label: 'bot' }).expect(201);
    expect(second.body).toMatchObject({ label: 'bot', participantId: buyer.id });
    await t.http.get('/v1/me').set(bearer(buyer.key)).expect(200);
    await t.http.get('/v1/me').set(bearer(second.body.key)).expect(200);

    // Rotation: a new key replacing the first, in one step.
    const rotated = await t.http
      .post(`/v1/participants/${buyer.id}/api-keys`)
      .set(bearer(second.body.key))
      .send({ label: 'rotated', replaces: buyer.keyId })
      .expect(201);
    const refused = await t.http.get('/v1/me').set(bearer(buyer.key)).expect(401);
    expect(refused.body).toMatchObject({ statusCode: 401, code: 'INVALID_API_KEY' });
    await t.http.get('/v1/me').set(bearer(rotated.body.key)).expect(200);

    // Revocation by the owner.
    const revoked = await t.http.delete(`/v1/api-keys/${second.body.id}`).set(bearer(rotated.body.key)).expect(200);
    expect(revoked.body.revokedAt).not.toBeNull();
    await t.http.get('/v1/me').set(bearer(second.body.key)).expect(401);
    // Revoking again is harmless.
    await t.http.delete(`/v1/api-keys/${second.body.id}`).set(bearer(t.adminKey)).expect(200);

    const keys = await t.http.get(`/v1/participants/${buyer.id}/api-keys`).set(bearer(rotated.body.key)).expect(200);
    expect(keys.body.items.map((k: { revokedAt: string | null }) => k.revokedAt !== null)).toEqual([true, true, false]);
  });

  test('a suspended participant is refused on every route until reinstated', async () => {
    const provider = await createParticipant(t, ['provider']);
    await t.http.patch(`/v1/participants/${provider.id}`).set(bearer(t.adminKey)).send({ status: 'suspended', reason: 'test' }).expect(200);
    const refused = await t.http.get('/v1/me').set(bearer(provider.key)).expect(403);
    expect(refused.body.code).toBe('PARTICIPANT_SUSPENDED');
    await t.http.post('/v1/withdrawals').set(bearer(provider.key)).send({ amount: '1' }).expect(403);
    await t.http.patch(`/v1/participants/${provider.id}`).set(bearer(t.adminKey)).send({ status: 'active', reason: 'test' }).expect(200);
    await t.http.get('/v1/me').set(bearer(provider.key)).expect(200);
  });

  test('an admin cannot suspend itself', async () => {
    const admin = await createParticipant(t, ['admin']);
    const response = await t.http.patch(`/v1/participants/${admin.id}`).set(bearer(admin.key)).send({ status: 'suspended', reason: 'test' }).expect(409);
    expect(response.body.code).toBe('CANNOT_SUSPEND_SELF');
  });

  test('lists are cursor-paginated', async () => {
    for (let i = 0; i < 3; i++) await createParticipant(t, ['buyer']);
    const first = await t.http.get('/v1/participants?limit=2').set(bearer(t.adminKey)).expect(200);
    expect(first.body.items).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await t.http.get(`/v1/participants?limit=2&cursor=${first.body.nextCursor}`).set(bearer(t.adminKey)).expect(200);
    expect(second.body.items[0].id).not.toBe(first.body.items[1].id);
    const all = await t.http.get('/v1/participants?limit=1000').set(bearer(t.adminKey)).expect(200);
    const ids = all.body.items.map((p: { id: string }) => p.id);
    expect(ids.indexOf(second.body.items[0].id)).toBe(ids.indexOf(first.body.items[1].id) + 1);
    await t.http.get('/v1/participants?cursor=nonsense').set(bearer(t.adminKey)).expect(400);
  });
});

describe('authentication and authorisation', () => {
  test('no key, a malformed header, or an unknown key: 401', async () => {
    for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer' }, bearer('tkx_not_a_real_key')]) {
      const response = await t.http.get('/v1/me').set(headers).expect(401);
      expect(response.body).toMatchObject({ statusCode: 401, error: 'Unauthorized', code: expect.any(String), message: expect.any(String) });
    }
  });

  test("another role's route: 403, and nothing is written", async () => {
    const buyer = await createParticipant(t, ['buyer']);
    const before = await countRows(t, 'participants');
    const response = await t.http.post('/v1/participants').set(bearer(buyer.key)).send({ name: 'x', roles: ['admin'] }).expect(403);
    expect(response.body).toMatchObject({ statusCode: 403, code: 'ROLE_REQUIRED' });
    expect(await countRows(t, 'participants')).toBe(before);
    await t.http.get('/v1/admin/ledger/trial-balance').set(bearer(buyer.key)).expect(403);
    await t.http.post('/v1/admin/deposits').set(bearer(buyer.key)).send({ participantId: buyer.id, amount: '5' }).expect(403);
  });

  test("another participant's resources are invisible: 404", async () => {
    const alice = await createParticipant(t, ['buyer']);
    const bob = await createParticipant(t, ['buyer']);
    const readOther = await t.http.get(`/v1/participants/${bob.id}`).set(bearer(alice.key)).expect(404);
    expect(readOther.body.code).toBe('PARTICIPANT_NOT_FOUND');
    await t.http.get(`/v1/participants/${bob.id}/api-keys`).set(bearer(alice.key)).expect(404);
    await t.http.post(`/v1/participants/${bob.id}/api-keys`).set(bearer(alice.key)).send({}).expect(404);
    const revokeOther = await t.http.delete(`/v1/api-keys/${bob.keyId}`).set(bearer(alice.key)).expect(404);
    expect(revokeOther.body.code).toBe('API_KEY_NOT_FOUND');
    // Rotation cannot revoke someone else's key either.
    await t.http.post(`/v1/participants/${alice.id}/api-keys`).set(bearer(alice.key)).send({ replaces: bob.keyId }).expect(404);
    await t.http.get('/v1/me').set(bearer(bob.key)).expect(200);
    // An admin sees everyone.
    await t.http.get(`/v1/participants/${bob.id}`).set(bearer(t.adminKey)).expect(200);
  });
});

describe('bad input on participant routes: 400 naming the field, nothing written', () => {
  const cases: Array<[string, unknown, string]> = [
    ['missing name', { roles: ['buyer'] }, 'name'],
    ['blank name', { name: '   ', roles: ['buyer'] }, 'name'],
    ['name too long', { name: 'x'.repeat(201), roles: ['buyer'] }, 'name'],
    ['unknown role', { name: 'x', roles: ['trader'] }, 'roles'],
    ['no roles', { name: 'x', roles: [] }, 'roles'],
    ['duplicate roles', { name: 'x', roles: ['buyer', 'buyer'] }, 'roles'],
    ['roles not a list', { name: 'x', roles: 'buyer' }, 'roles'],
    ['unknown field', { name: 'x', roles: ['buyer'], isAdmin: true }, 'isAdmin'],
    ['not an object', [1, 2], 'body'],
  ];
  test.each(cases)('%s', async (_, body, field) => {
    const before = await countRows(t, 'participants');
    const response = await t.http.post('/v1/participants').set(bearer(t.adminKey)).send(body as object).expect(400);
    expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'VALIDATION_FAILED' });
    if (field !== 'body') expect(response.body.message).toContain(field);
    expect(await countRows(t, 'participants')).toBe(before);
  });

  test('path ids must be UUIDs', async () => {
    const response = await t.http.get('/v1/participants/42').set(bearer(t.adminKey)).expect(400);
    expect(response.body.message).toContain('id must be a UUID');
    await t.http.delete('/v1/api-keys/nope').set(bearer(t.adminKey)).expect(400);
  });

  test('bad updates and key requests', async () => {
    const buyer = await createParticipant(t, ['buyer']);
    const status = await t.http.patch(`/v1/participants/${buyer.id}`).set(bearer(t.adminKey)).send({ status: 'banned', reason: 'test' }).expect(400);
    expect(status.body.message).toContain('status');
    const reasonless = await t.http.patch(`/v1/participants/${buyer.id}`).set(bearer(t.adminKey)).send({ status: 'suspended' }).expect(400);
    expect(reasonless.body.message).toContain('reason');
    const label = await t.http.post(`/v1/participants/${buyer.id}/api-keys`).set(bearer(buyer.key)).send({ label: 'x'.repeat(101) }).expect(400);
    expect(label.body.message).toContain('label');
    const replaces = await t.http.post(`/v1/participants/${buyer.id}/api-keys`).set(bearer(buyer.key)).send({ replaces: 'old' }).expect(400);
    expect(replaces.body.message).toContain('replaces');
    await t.http.patch(`/v1/participants/00000000-0000-4000-8000-000000000000`).set(bearer(t.adminKey)).send({ name: 'ghost', reason: 'test' }).expect(404);
  });
});
