import { afterEach, describe, expect, test } from '@jest/globals';
import { exportJWK, generateKeyPair, type JSONWebKeySet, type JWK, SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type DeliveryKeyClaims,
  DeliveryKeyError,
  type DeliveryKeyErrorReason,
  type DeliveryKeyExpectations,
  RemoteDeliveryKeys,
  verifyDeliveryKey,
} from './delivery-key-verifier.js';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
interface TestKey {
  readonly kid: string;
  readonly privateKey: PrivateKey;
  readonly jwk: JWK;
}

async function newKey(kid = `k-${randomUUID()}`): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' } };
}

const NOW = new Date('2026-03-01T12:00:00Z');
const seconds = (date: Date) => Math.floor(date.getTime() / 1000);
const ids = { keyId: randomUUID(), deliveryId: randomUUID(), buyerId: randomUUID(), providerId: randomUUID() };

/** A delivery key as tokex signs it; `claims` and `header` override or (with undefined) remove fields. */
function sign(key: TestKey, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const iat = seconds(NOW) - 60;
  const payload: Record<string, unknown> = {
    iss: 'tokex',
    sub: ids.deliveryId,
    aud: ids.providerId,
    jti: ids.keyId,
    iat,
    nbf: iat,
    exp: seconds(NOW) + 3600,
    buy: ids.buyerId,
    mdl: 'llama-3.1-70b',
    knd: 'buyer',
    ...claims,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  const protectedHeader = { alg: 'EdDSA', kid: key.kid, typ: 'JWT', ...header };
  for (const [name, value] of Object.entries(protectedHeader)) if (value === undefined) delete (protectedHeader as Record<string, unknown>)[name];
  return new SignJWT(payload).setProtectedHeader(protectedHeader as { alg: string }).sign(key.privateKey);
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const parts = (token: string) => token.split('.') as [string, string, string];
const decodePart = (part: string): Record<string, unknown> => JSON.parse(Buffer.from(part, 'base64url').toString());

async function reasonOf(promise: Promise<unknown>): Promise<DeliveryKeyErrorReason | 'accepted'> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    if (error instanceof DeliveryKeyError) return error.reason;
    throw error;
  }
}

describe('verifyDeliveryKey', () => {
  const verify = async (token: string, expectations: DeliveryKeyExpectations = {}, keys?: JSONWebKeySet) => {
    const key = await tokex;
    return verifyDeliveryKey(token, keys ?? { keys: [key.jwk] }, { now: NOW, ...expectations });
  };
  const tokex = newKey('tokex-1');

  test('a valid key verifies and yields its claims', async () => {
    const token = await sign(await tokex);
    const claims = await verify(token, { providerId: ids.providerId, deliveryId: ids.deliveryId, isRevoked: () => false });
    const expected: DeliveryKeyClaims = {
      keyId: ids.keyId,
      deliveryId: ids.deliveryId,
      buyerId: ids.buyerId,
      providerId: ids.providerId,
      modelClassId: 'llama-3.1-70b',
      kind: 'buyer',
      issuedAt: new Date((seconds(NOW) - 60) * 1000),
      expiresAt: new Date((seconds(NOW) + 3600) * 1000),
    };
    expect(claims).toEqual(expected);
  });

  test('an audit key verifies as such', async () => {
    expect((await verify(await sign(await tokex, { knd: 'audit' }))).kind).toBe('audit');
  });

  test('expiry and not-before allow 5 seconds of clock skew, no more', async () => {
    const key = await tokex;
    expect(await reasonOf(verify(await sign(key, { exp: seconds(NOW) - 4 })))).toBe('accepted');
    expect(await reasonOf(verify(await sign(key, { exp: seconds(NOW) - 6 })))).toBe('expired');
    expect(await reasonOf(verify(await sign(key, { exp: seconds(NOW) - 3600 })))).toBe('expired');
    expect(await reasonOf(verify(await sign(key, { nbf: seconds(NOW) + 4 })))).toBe('accepted');
    expect(await reasonOf(verify(await sign(key, { nbf: seconds(NOW) + 6 })))).toBe('not_yet_valid');
  });

  test('a revoked key is refused', async () => {
    const token = await sign(await tokex);
    expect(await reasonOf(verify(token, { isRevoked: (id) => id === ids.keyId }))).toBe('revoked');
    expect(await reasonOf(verify(token, { isRevoked: (id) => id === randomUUID() }))).toBe('accepted');
  });

  test('a key for another delivery (sub) or another provider (aud) is refused', async () => {
    const token = await sign(await tokex);
    expect(await reasonOf(verify(token, { deliveryId: randomUUID() }))).toBe('wrong_delivery');
    expect(await reasonOf(verify(token, { providerId: randomUUID() }))).toBe('wrong_provider');
    // The buyer's id is no delivery, nor the provider's: each claim is compared with its own.
    expect(await reasonOf(verify(token, { deliveryId: ids.buyerId }))).toBe('wrong_delivery');
    expect(await reasonOf(verify(token, { providerId: ids.buyerId }))).toBe('wrong_provider');
    // Ids compare whatever their case.
    expect(await reasonOf(verify(token, { providerId: ids.providerId.toUpperCase(), deliveryId: ids.deliveryId.toUpperCase() }))).toBe('accepted');
  });

  test('the token carries exactly the v1 claims and header', async () => {
    const [header, payload] = parts(await sign(await tokex));
    expect(decodePart(header)).toEqual({ alg: 'EdDSA', kid: 'tokex-1', typ: 'JWT' });
    expect(Object.keys(decodePart(payload)).sort()).toEqual(['aud', 'buy', 'exp', 'iat', 'iss', 'jti', 'knd', 'mdl', 'nbf', 'sub']);
  });

  test('a tampered payload (claim changed, signature kept) is refused', async () => {
    const [header, payload, signature] = parts(await sign(await tokex));
    const forged = b64url({ ...decodePart(payload), sub: randomUUID(), exp: seconds(NOW) + 86_400 * 365 });
    expect(await reasonOf(verify(`${header}.${forged}.${signature}`))).toBe('bad_signature');
  });

  test('a tampered signature is refused', async () => {
    const [header, payload, signature] = parts(await sign(await tokex));
    const bytes = Buffer.from(signature, 'base64url');
    bytes[10] ^= 0x01;
    expect(await reasonOf(verify(`${header}.${payload}.${bytes.toString('base64url')}`))).toBe('bad_signature');
  });

  test('a key signed by another key is refused, whatever kid it names', async () => {
    const mallory = await newKey('mallory');
    expect(await reasonOf(verify(await sign(mallory)))).toBe('bad_signature'); // unknown kid
    expect(await reasonOf(verify(await sign({ ...mallory, kid: 'tokex-1' })))).toBe('bad_signature'); // tokex's kid
  });

  test('alg "none" is refused', async () => {
    const [, payload] = parts(await sign(await tokex));
    const header = b64url({ alg: 'none', kid: 'tokex-1', typ: 'JWT' });
    expect(await reasonOf(verify(`${header}.${payload}.`))).toBe('bad_signature');
  });

  test('an HS256 key (the public key used as an HMAC secret) is refused', async () => {
    const key = await tokex;
    const secret = Buffer.from(key.jwk.x!, 'base64url');
    const token = await new SignJWT({ ...decodePart(parts(await sign(key))[1]) })
      .setProtectedHeader({ alg: 'HS256', kid: 'tokex-1', typ: 'JWT' })
      .sign(secret);
    expect(await reasonOf(verify(token))).toBe('bad_signature');
    // Even against a set that (wrongly) publishes an HMAC key under that kid.
    const octSet = { keys: [{ kty: 'oct', k: secret.toString('base64url'), kid: 'tokex-1' }] };
    expect(await reasonOf(verify(token, {}, octSet))).toBe('bad_signature');
  });

  test('garbage is malformed', async () => {
    for (const garbage of ['', 'not-a-jwt', 'a.b.c', `${b64url({ alg: 'EdDSA' })}.x.y`, 'x'.repeat(10_000), 'Bearer abc.def.ghi']) {
      expect(await reasonOf(verify(garbage))).toBe('malformed');
    }
  });

  test('a token of another issuer is refused; one whose audience is not a provider is malformed', async () => {
    const key = await tokex;
    expect(await reasonOf(verify(await sign(key, { iss: 'someone-else' })))).toBe('wrong_issuer');
    expect(await reasonOf(verify(await sign(key, { iss: undefined })))).toBe('malformed');
    // The audience the previous, unpublished format used: not a provider id.
    expect(await reasonOf(verify(await sign(key, { aud: 'tokex-delivery' })))).toBe('malformed');
    expect(await reasonOf(verify(await sign(key, { aud: 'tokex-delivery' }), { providerId: ids.providerId }))).toBe('malformed');
  });

  test('missing or ill-typed claims and headers are malformed', async () => {
    const key = await tokex;
    const cases: Array<[Record<string, unknown>, Record<string, unknown>]> = [
      [{ sub: undefined }, {}],
      [{ sub: 'not-a-uuid' }, {}],
      [{ aud: undefined }, {}],
      [{ aud: 42 }, {}],
      [{ aud: [ids.providerId] }, {}],
      [{ buy: undefined }, {}],
      [{ buy: 'bob' }, {}],
      [{ jti: undefined }, {}],
      [{ mdl: '' }, {}],
      [{ knd: 'admin' }, {}],
      [{ exp: undefined }, {}],
      [{ nbf: undefined }, {}],
      [{ iat: 'yesterday' }, {}],
      [{}, { kid: undefined }],
      [{}, { typ: 'at+jwt' }],
    ];
    for (const [claims, header] of cases) {
      expect([claims, header, await reasonOf(verify(await sign(key, claims, header)))]).toEqual([claims, header, 'malformed']);
    }
  });

  test('an unusable key set refuses every key, with a DeliveryKeyError', async () => {
    const token = await sign(await tokex);
    expect(await reasonOf(verify(token, {}, { keys: 'nope' } as unknown as JSONWebKeySet))).toBe('bad_signature');
  });
});

/** A stand-in for tokex's two well-known documents. */
interface FakeTokex {
  readonly url: string;
  jwks: JSONWebKeySet;
  revoked: Array<{ jti: string; exp: number }>;
  status: number;
  readonly requests: string[];
  close(): Promise<void>;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function fakeTokex(keys: TestKey[]): Promise<FakeTokex> {
  const state = {
    jwks: { keys: keys.map((k) => k.jwk) } as JSONWebKeySet,
    revoked: [] as Array<{ jti: string; exp: number }>,
    status: 200,
    requests: [] as string[],
  };
  const server = createServer((request, response) => {
    state.requests.push(request.url ?? '');
    const body =
      request.url === '/v1/.well-known/jwks.json' ? state.jwks : request.url === '/v1/delivery-keys/revoked' ? { revoked: state.revoked } : undefined;
    const status = body === undefined ? 404 : state.status;
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? {}));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  });
}

describe('RemoteDeliveryKeys', () => {
  const validNow = () => ({ iat: seconds(new Date()) - 10, nbf: seconds(new Date()) - 10, exp: seconds(new Date()) + 600 });
  const nodeFor = (tokex: FakeTokex, providerId = ids.providerId) => new RemoteDeliveryKeys({ tokexUrl: tokex.url, providerId, timeoutMs: 2_000 });

  test('verifies offline after one refresh', async () => {
    const key = await newKey();
    const tokex = await fakeTokex([key]);
    const node = nodeFor(tokex);
    expect(node.lastRefreshedAt).toBeNull();
    await node.refresh();
    const fetched = tokex.requests.length;
    expect(fetched).toBe(2);
    for (let i = 0; i < 3; i += 1) {
      const claims = await node.verify(await sign(key, validNow()), ids.deliveryId);
      expect(claims.deliveryId).toBe(ids.deliveryId);
    }
    expect(tokex.requests.length).toBe(fetched);
    expect(await reasonOf(node.verify(await sign(key, validNow()), randomUUID()))).toBe('wrong_delivery');
    expect(await reasonOf(nodeFor(tokex, randomUUID()).verify(await sign(key, validNow())))).toBe('wrong_provider');
  });

  test('loads the sets on first use', async () => {
    const key = await newKey();
    const tokex = await fakeTokex([key]);
    const node = nodeFor(tokex);
    await expect(node.verify(await sign(key, validNow()))).resolves.toMatchObject({ keyId: ids.keyId });
    expect(tokex.requests.sort()).toEqual(['/v1/.well-known/jwks.json', '/v1/delivery-keys/revoked']);
  });

  test('picks up a revocation at the next refresh', async () => {
    const key = await newKey();
    const tokex = await fakeTokex([key]);
    const node = nodeFor(tokex);
    await node.refresh();
    const token = await sign(key, validNow());
    tokex.revoked = [{ jti: ids.keyId, exp: seconds(new Date()) + 600 }];
    expect(await reasonOf(node.verify(token))).toBe('accepted'); // not known yet: offline between refreshes
    await node.refresh();
    expect(await reasonOf(node.verify(token))).toBe('revoked');
  });

  test('keeps the last good sets when tokex fails or goes away', async () => {
    const key = await newKey();
    const tokex = await fakeTokex([key]);
    const node = nodeFor(tokex);
    await node.refresh();
    const token = await sign(key, validNow());

    tokex.status = 500;
    await expect(node.refresh()).rejects.toThrow(/500/);
    tokex.status = 200;
    tokex.jwks = { keys: 'broken' } as unknown as JSONWebKeySet;
    await expect(node.refresh()).rejects.toThrow();
    expect(await reasonOf(node.verify(token))).toBe('accepted');
    // A revocation list in another format (the old `id`) is refused whole, the JWKS with it.
    tokex.jwks = { keys: [key.jwk] };
    tokex.revoked = [{ id: ids.keyId } as unknown as { jti: string; exp: number }];
    await expect(node.refresh()).rejects.toThrow(/jti/);
    expect(await reasonOf(node.verify(token))).toBe('accepted');

    await tokex.close();
    await expect(node.refresh()).rejects.toThrow();
    expect(await reasonOf(node.verify(token))).toBe('accepted');
  });

  test('with nothing loaded and tokex unreachable, verification fails (not as a bad key)', async () => {
    const tokex = await fakeTokex([]);
    await tokex.close();
    const key = await newKey();
    await expect(nodeFor(tokex).verify(await sign(key, validNow()))).rejects.not.toBeInstanceOf(DeliveryKeyError);
  });

  test('refreshes once on an unknown kid, and rations such refreshes', async () => {
    const [oldKey, newKeyOfTokex, stranger] = await Promise.all([newKey(), newKey(), newKey()]);
    const tokex = await fakeTokex([oldKey]);
    const node = nodeFor(tokex);
    await node.refresh();
    tokex.jwks = { keys: [newKeyOfTokex.jwk, oldKey.jwk] }; // tokex rotated after the node's refresh
    const before = tokex.requests.length;
    expect(await reasonOf(node.verify(await sign(newKeyOfTokex, validNow())))).toBe('accepted');
    expect(tokex.requests.length).toBe(before + 2);
    // Kids are the sender's choice: another unknown one right after does not fetch again.
    expect(await reasonOf(node.verify(await sign(stranger, validNow())))).toBe('bad_signature');
    expect(tokex.requests.length).toBe(before + 2);
    // A known kid never fetches.
    expect(await reasonOf(node.verify(await sign(oldKey, validNow())))).toBe('accepted');
    expect(tokex.requests.length).toBe(before + 2);
  });

  test('start() refreshes periodically until stop()', async () => {
    const key = await newKey();
    const tokex = await fakeTokex([key]);
    const node = new RemoteDeliveryKeys({ tokexUrl: tokex.url, providerId: ids.providerId, refreshMs: 20 });
    node.start();
    node.start(); // idempotent
    await new Promise((resolve) => setTimeout(resolve, 150));
    node.stop();
    await new Promise((resolve) => setTimeout(resolve, 30)); // let a refresh in flight land
    const fetched = tokex.requests.length;
    expect(fetched).toBeGreaterThanOrEqual(4);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(tokex.requests.length).toBe(fetched);
    expect(node.lastRefreshedAt).toBeInstanceOf(Date);
  });
});
