import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { NodesService } from '../../src/nodes/nodes.service.js';
import { bearer, createParticipant, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';

let t: TestApp;
let modelClassId: string;
let otherModelClassId: string;
beforeAll(async () => {
  t = await startTestApp();
  const prefix = `nd${randomUUID().slice(0, 8)}`;
  modelClassId = `${prefix}-70b`;
  otherModelClassId = `${prefix}-8b`;
  for (const id of [modelClassId, otherModelClassId]) {
    await t.http
      .post('/v1/admin/model-classes')
      .set(bearer(t.adminKey))
      .send({ id, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2000 })
      .expect(201);
  }
});
afterAll(async () => {
  await t.close();
});

const newKey = () => generateKeyPairSync('ed25519').publicKey;
const derOf = (key = newKey()) => key.export({ format: 'der', type: 'spki' }).toString('base64');

const nodeBody = (overrides: object = {}) => ({
  modelClassId,
  baseUrl: 'https://gpu-1.acme.example/v1',
  metricsUrl: 'http://10.0.0.7:8000/metrics',
  publicKey: derOf(),
  tokensPerSecond: 5000,
  ...overrides,
});

const register = (who: TestParticipant, body: object) => t.http.post('/v1/nodes').set(bearer(who.key)).send(body);

/** Nodes of one provider: other test files register nodes of their own in the same database. */
async function nodesOf(who: TestParticipant): Promise<number> {
  const [{ count }] = await t.dataSource.query(`SELECT count(*)::int AS count FROM inference_nodes WHERE provider_id = $1`, [who.id]);
  return count;
}

describe('registering nodes', () => {
  test('a provider registers a node and sees it; the key is kept as base64 SPKI DER', async () => {
    const provider = await createParticipant(t, ['provider']);
    const key = newKey();
    const created = await register(provider, nodeBody({ publicKey: key.export({ format: 'pem', type: 'spki' }), name: 'gpu-1 (8×H100)' })).expect(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      providerId: provider.id,
      modelClassId,
      name: 'gpu-1 (8×H100)',
      baseUrl: 'https://gpu-1.acme.example/v1',
      metricsUrl: 'http://10.0.0.7:8000/metrics',
      publicKey: derOf(key),
      tokensPerSecond: 5000,
      status: 'enabled',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const read = await t.http.get(`/v1/nodes/${created.body.id}`).set(bearer(provider.key)).expect(200);
    expect(read.body).toEqual(created.body);
    const listed = await t.http.get('/v1/nodes').set(bearer(provider.key)).expect(200);
    expect(listed.body).toEqual({ items: [created.body], nextCursor: null });
    const [audit] = await t.dataSource.query(`SELECT action, actor_id FROM audit_events WHERE subject_type = 'node' AND subject_id = $1`, [created.body.id]);
    expect(audit).toEqual({ action: 'node.register', actor_id: provider.id });
  });

  test('one key, one node: the same key again is a 409, in either encoding, for anyone', async () => {
    const provider = await createParticipant(t, ['provider']);
    const other = await createParticipant(t, ['provider']);
    const key = newKey();
    await register(provider, nodeBody({ publicKey: derOf(key) })).expect(201);
    for (const [who, publicKey] of [[provider, derOf(key)], [other, key.export({ format: 'pem', type: 'spki' })]] as const) {
      const refused = await register(who, nodeBody({ publicKey, modelClassId: otherModelClassId })).expect(409);
      expect(refused.body.code).toBe('NODE_PUBLIC_KEY_EXISTS');
    }
    expect([await nodesOf(provider), await nodesOf(other)]).toEqual([1, 0]);
  });

  test('an unknown model class is a 404 and writes nothing', async () => {
    const provider = await createParticipant(t, ['provider']);
    const response = await register(provider, nodeBody({ modelClassId: 'no-such-model' })).expect(404);
    expect(response.body.code).toBe('MODEL_CLASS_NOT_FOUND');
    expect(await nodesOf(provider)).toBe(0);
  });

  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const x25519 = generateKeyPairSync('x25519');
  const ed25519 = generateKeyPairSync('ed25519');
  test.each([
    ['an RSA public key', { publicKey: rsa.publicKey.export({ format: 'pem', type: 'spki' }) }, 'publicKey'],
    ['an X25519 public key', { publicKey: x25519.publicKey.export({ format: 'der', type: 'spki' }).toString('base64') }, 'publicKey'],
    ['an Ed25519 private key', { publicKey: ed25519.privateKey.export({ format: 'pem', type: 'pkcs8' }) }, 'publicKey'],
    ['the raw 32 key bytes', { publicKey: ed25519.publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('base64') }, 'publicKey'],
    ['a key that is not base64', { publicKey: 'not-a-key!' }, 'publicKey'],
    ['no key', { publicKey: undefined }, 'publicKey'],
    ['a baseUrl that is not a URL', { baseUrl: 'gpu-1.acme.example' }, 'baseUrl'],
    ['an ftp baseUrl', { baseUrl: 'ftp://gpu-1.acme.example/v1' }, 'baseUrl'],
    ['a baseUrl with credentials', { baseUrl: 'https://user:secret@gpu-1.acme.example/v1' }, 'baseUrl'],
    ['a metricsUrl that is not a URL', { metricsUrl: 'metrics' }, 'metricsUrl'],
    ['a javascript: metricsUrl', { metricsUrl: 'javascript:alert(1)' }, 'metricsUrl'],
    ['tokensPerSecond zero', { tokensPerSecond: 0 }, 'tokensPerSecond'],
    ['tokensPerSecond negative', { tokensPerSecond: -5 }, 'tokensPerSecond'],
    ['tokensPerSecond a fraction', { tokensPerSecond: 1.5 }, 'tokensPerSecond'],
    ['tokensPerSecond a string', { tokensPerSecond: '5000' }, 'tokensPerSecond'],
    ['tokensPerSecond above ten million', { tokensPerSecond: 10_000_001 }, 'tokensPerSecond'],
    ['a blank name', { name: '   ' }, 'name'],
    ['a modelClassId that is not a slug', { modelClassId: 'Llama 3' }, 'modelClassId'],
    ['an unknown field', { status: 'enabled' }, 'status'],
  ])('bad node: %s is a 400 naming the field, nothing written', async (_, change, field) => {
    const provider = await createParticipant(t, ['provider']);
    const response = await register(provider, nodeBody(change)).expect(400);
    expect(response.body).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED', message: expect.stringContaining(field) });
    expect(await nodesOf(provider)).toBe(0);
  });
});

describe('managing nodes', () => {
  test('a provider disables, re-enables and re-declares its node; the key cannot change', async () => {
    const provider = await createParticipant(t, ['provider']);
    const { body: node } = await register(provider, nodeBody()).expect(201);
    const patch = (body: object) => t.http.patch(`/v1/nodes/${node.id}`).set(bearer(provider.key)).send(body);

    const disabled = await patch({ status: 'disabled' }).expect(200);
    expect(disabled.body).toMatchObject({ status: 'disabled', tokensPerSecond: 5000 });
    const changed = await patch({ status: 'enabled', tokensPerSecond: 7500, baseUrl: 'https://gpu-2.acme.example/v1', metricsUrl: 'https://gpu-2.acme.example/metrics', name: 'gpu-2' }).expect(200);
    expect(changed.body).toMatchObject({
      status: 'enabled',
      tokensPerSecond: 7500,
      baseUrl: 'https://gpu-2.acme.example/v1',
      metricsUrl: 'https://gpu-2.acme.example/metrics',
      name: 'gpu-2',
      publicKey: node.publicKey,
      createdAt: node.createdAt,
    });
    expect(Date.parse(changed.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(node.updatedAt));

    const rekey = await patch({ publicKey: derOf() }).expect(400);
    expect(rekey.body.message).toContain('publicKey cannot change');
    for (const [body, field] of [
      [{ status: 'deleted' }, 'status'],
      [{ tokensPerSecond: 0 }, 'tokensPerSecond'],
      [{ baseUrl: 'not a url' }, 'baseUrl'],
      [{ metricsUrl: 'ftp://x/metrics' }, 'metricsUrl'],
      [{ modelClassId: otherModelClassId }, 'modelClassId'],
      [{ name: '' }, 'name'],
    ] as const) {
      const response = await patch(body).expect(400);
      expect(response.body.message).toContain(field);
    }
    const [stored] = await t.dataSource.query(`SELECT public_key, tokens_per_second, status FROM inference_nodes WHERE id = $1`, [node.id]);
    expect(stored).toEqual({ public_key: node.publicKey, tokens_per_second: 7500, status: 'enabled' });
    const actions = await t.dataSource.query(`SELECT action FROM audit_events WHERE subject_type = 'node' AND subject_id = $1 ORDER BY id`, [node.id]);
    expect(actions.map((a: { action: string }) => a.action)).toEqual(['node.register', 'node.update', 'node.update']);
  });

  test("another provider's node does not exist for the caller", async () => {
    const owner = await createParticipant(t, ['provider']);
    const stranger = await createParticipant(t, ['provider', 'buyer']);
    const { body: node } = await register(owner, nodeBody()).expect(201);
    const get = await t.http.get(`/v1/nodes/${node.id}`).set(bearer(stranger.key)).expect(404);
    expect(get.body.code).toBe('NODE_NOT_FOUND');
    await t.http.patch(`/v1/nodes/${node.id}`).set(bearer(stranger.key)).send({ status: 'disabled' }).expect(404);
    expect((await t.http.get('/v1/nodes').set(bearer(stranger.key)).expect(200)).body.items).toEqual([]);
    const [stored] = await t.dataSource.query(`SELECT status FROM inference_nodes WHERE id = $1`, [node.id]);
    expect(stored.status).toBe('enabled');
    await t.http.get(`/v1/nodes/${randomUUID()}`).set(bearer(owner.key)).expect(404);
    const malformed = await t.http.get('/v1/nodes/not-a-uuid').set(bearer(owner.key)).expect(400);
    expect(malformed.body.message).toContain('id must be a UUID');
    await t.http.patch('/v1/nodes/not-a-uuid').set(bearer(owner.key)).send({ status: 'disabled' }).expect(400);
  });

  test('only providers use the node routes', async () => {
    const owner = await createParticipant(t, ['provider']);
    const { body: node } = await register(owner, nodeBody()).expect(201);
    const buyer = await createParticipant(t, ['buyer']);
    const admin = await createParticipant(t, ['admin']);
    for (const who of [buyer, admin]) {
      const refused = await register(who, nodeBody()).expect(403);
      expect(refused.body.code).toBe('ROLE_REQUIRED');
      await t.http.get('/v1/nodes').set(bearer(who.key)).expect(403);
      await t.http.get(`/v1/nodes/${node.id}`).set(bearer(who.key)).expect(403);
      await t.http.patch(`/v1/nodes/${node.id}`).set(bearer(who.key)).send({ status: 'disabled' }).expect(403);
      expect(await nodesOf(who)).toBe(0);
    }
    await t.http.get('/v1/nodes').expect(401);
    await t.http.post('/v1/nodes').send(nodeBody()).expect(401);
  });

  test('the list is cursor-paginated, oldest first', async () => {
    const provider = await createParticipant(t, ['provider']);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await register(provider, nodeBody({ name: `n${i}` })).expect(201)).body.id);
    const first = await t.http.get('/v1/nodes?limit=2').set(bearer(provider.key)).expect(200);
    expect(first.body.items.map((n: { id: string }) => n.id)).toEqual(ids.slice(0, 2));
    const second = await t.http.get(`/v1/nodes?limit=2&cursor=${first.body.nextCursor}`).set(bearer(provider.key)).expect(200);
    expect(second.body).toEqual({ items: [expect.objectContaining({ id: ids[2] })], nextCursor: null });
    await t.http.get('/v1/nodes?limit=0').set(bearer(provider.key)).expect(400);
  });
});

describe('what other modules use', () => {
  test('capacityOf sums the enabled nodes of one provider and model class', async () => {
    const provider = await createParticipant(t, ['provider']);
    const other = await createParticipant(t, ['provider']);
    const nodes = t.app.get(NodesService);
    expect(await nodes.capacityOf(provider.id, modelClassId)).toEqual({ activeNodes: 0, tokensPerSecond: 0n });

    const a = (await register(provider, nodeBody({ tokensPerSecond: 5000 })).expect(201)).body;
    await register(provider, nodeBody({ tokensPerSecond: 10_000_000 })).expect(201);
    await register(provider, nodeBody({ modelClassId: otherModelClassId, tokensPerSecond: 300 })).expect(201);
    await register(other, nodeBody({ tokensPerSecond: 40 })).expect(201);
    expect(await nodes.capacityOf(provider.id, modelClassId)).toEqual({ activeNodes: 2, tokensPerSecond: 10_005_000n });
    expect(await nodes.capacityOf(provider.id, otherModelClassId)).toEqual({ activeNodes: 1, tokensPerSecond: 300n });

    await t.http.patch(`/v1/nodes/${a.id}`).set(bearer(provider.key)).send({ status: 'disabled' }).expect(200);
    expect(await nodes.capacityOf(provider.id, modelClassId)).toEqual({ activeNodes: 1, tokensPerSecond: 10_000_000n });
  });

  test('nodeById returns any node with its key, for signature checks', async () => {
    const provider = await createParticipant(t, ['provider']);
    const { body: node } = await register(provider, nodeBody({ name: 'signer' })).expect(201);
    await t.http.patch(`/v1/nodes/${node.id}`).set(bearer(provider.key)).send({ status: 'disabled' }).expect(200);
    const nodes = t.app.get(NodesService);
    expect(await nodes.nodeById(node.id)).toEqual({
      id: node.id,
      providerId: provider.id,
      modelClassId,
      name: 'signer',
      baseUrl: node.baseUrl,
      metricsUrl: node.metricsUrl,
      publicKey: node.publicKey,
      tokensPerSecond: 5000,
      status: 'disabled',
    });
    expect(await nodes.nodeById(randomUUID())).toBeUndefined();
    expect(await nodes.nodeById('forged-header')).toBeUndefined();
  });
});
