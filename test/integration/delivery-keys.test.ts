import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { DomainError } from '../../src/common/domain-error.js';
import { DeliveryKeyError, type DeliveryKeyErrorReason, verifyDeliveryKey } from '../../src/protocol/delivery-key-verifier.js';
import { type DeliveryKeyIssue, DeliveryKeysService } from '../../src/delivery-keys/delivery-keys.service.js';
import { openTestDataSource } from '../support/database.js';

let dataSource: DataSource;
let otherProcess: DataSource;

beforeAll(async () => {
  dataSource = await openTestDataSource(10);
  otherProcess = await openTestDataSource(10);
});
afterAll(async () => {
  await Promise.all([dataSource.destroy(), otherProcess.destroy()]);
});

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

const anIssue = (overrides: Partial<DeliveryKeyIssue> = {}): DeliveryKeyIssue => ({
  deliveryId: randomUUID(),
  buyerId: randomUUID(),
  providerId: randomUUID(),
  modelClassId: 'llama-3.1-70b',
  kind: 'buyer',
  expiresAt: new Date(Date.now() + HOUR_MS),
  ...overrides,
});

async function reasonOf(promise: Promise<unknown>): Promise<DeliveryKeyErrorReason | 'accepted'> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    if (error instanceof DeliveryKeyError) return error.reason;
    throw error;
  }
}

describe('signing keys', () => {
  test('services starting together create one signing key', async () => {
    // Start with no current key (other test files may have made one; retired keys stay published).
    await dataSource.query(`UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL`);
    const services = Array.from({ length: 8 }, (_, i) => new DeliveryKeysService(i % 2 === 0 ? dataSource : otherProcess));
    const kids = await Promise.all(services.map((s) => s.signingKeyId()));
    expect(new Set(kids).size).toBe(1);
    const current: Array<{ kid: string; algorithm: string }> = await dataSource.query(`SELECT kid, algorithm FROM signing_keys WHERE retired_at IS NULL`);
    expect(current).toEqual([{ kid: kids[0], algorithm: 'EdDSA' }]);
  });

  test('rotation: the new key signs, the old one stays published for 7 days', async () => {
    const service = new DeliveryKeysService(dataSource);
    const before = await service.issue(anIssue());
    const oldKid = decodeProtectedHeader(before.token).kid!;

    const { kid: newKid, retired } = await service.rotateSigningKey();
    expect(retired).toContain(oldKid);
    expect(await service.signingKeyId()).toBe(newKid);
    const after = await service.issue(anIssue());
    expect(decodeProtectedHeader(after.token).kid).toBe(newKid);

    const published = await service.jwks();
    expect(published.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, newKid]));
    expect(await reasonOf(verifyDeliveryKey(before.token, published))).toBe('accepted');
    expect(await reasonOf(verifyDeliveryKey(after.token, published))).toBe('accepted');

    const weekLater = await service.jwks(new Date(Date.now() + 7 * DAY_MS + HOUR_MS));
    expect(weekLater.keys.map((k) => k.kid)).toContain(newKid);
    expect(weekLater.keys.map((k) => k.kid)).not.toContain(oldKid);
    expect(await reasonOf(verifyDeliveryKey(before.token, weekLater, { now: new Date() }))).toBe('bad_signature');
  });

  test('the JWKS publishes public halves only, marked for EdDSA signatures', async () => {
    const service = new DeliveryKeysService(dataSource);
    await service.signingKeyId();
    const { keys } = await service.jwks();
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x']);
      expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    }
  });
});

describe('delivery keys', () => {
  test("an audit key's token is a buyer's: only its row says audit", async () => {
    const service = new DeliveryKeysService(dataSource);
    const base = anIssue({ expiresAt: new Date(Date.now() + HOUR_MS) });
    const buyer = decodeJwt((await service.issue({ ...base, kind: 'buyer' })).token);
    const audit = await service.issue({ ...base, kind: 'audit' });
    const claims = decodeJwt(audit.token);
    expect(Object.keys(claims).sort()).toEqual(Object.keys(buyer).sort());
    expect(claims.knd).toBe('buyer');
    expect((await verifyDeliveryKey(audit.token, await service.jwks())).kind).toBe('buyer');
    expect((await service.keysOfDelivery(base.deliveryId)).find((k) => k.id === audit.id)).toMatchObject({ kind: 'audit' });
  });

  test('an issued key verifies against the JWKS with its claims, and is recorded', async () => {
    const service = new DeliveryKeysService(dataSource);
    const input = anIssue({ kind: 'audit', expiresAt: new Date(Date.now() + HOUR_MS + 789) });
    const issued = await service.issue(input);
    expect(issued.expiresAt.getTime() % 1000).toBe(0);
    expect(issued.expiresAt.getTime()).toBe(Math.floor(input.expiresAt.getTime() / 1000) * 1000);

    const claims = await verifyDeliveryKey(issued.token, await service.jwks(), { providerId: input.providerId, deliveryId: input.deliveryId });
    expect(claims).toMatchObject({
      keyId: issued.id,
      deliveryId: input.deliveryId,
      buyerId: input.buyerId,
      providerId: input.providerId,
      modelClassId: 'llama-3.1-70b',
      kind: 'buyer', // what the token says, whatever the row's kind
      expiresAt: issued.expiresAt,
    });
    expect(Math.abs(claims.issuedAt.getTime() - Date.now())).toBeLessThan(10_000);

    // The v1 wire format (api.md): the delivery is the subject, the provider the audience.
    expect(decodeProtectedHeader(issued.token)).toEqual({ alg: 'EdDSA', kid: expect.any(String), typ: 'JWT' });
    const iat = Math.floor(claims.issuedAt.getTime() / 1000);
    expect(decodeJwt(issued.token)).toEqual({
      iss: 'tokex',
      sub: input.deliveryId,
      aud: input.providerId,
      jti: issued.id,
      iat,
      nbf: iat,
      exp: issued.expiresAt.getTime() / 1000,
      buy: input.buyerId,
      mdl: 'llama-3.1-70b',
      knd: 'buyer',
    });
    expect(await reasonOf(verifyDeliveryKey(issued.token, await service.jwks(), { providerId: input.buyerId }))).toBe('wrong_provider');
    expect(await reasonOf(verifyDeliveryKey(issued.token, await service.jwks(), { deliveryId: input.buyerId }))).toBe('wrong_delivery');

    const [row, ...none] = await service.keysOfDelivery(input.deliveryId);
    expect(none).toEqual([]);
    expect(row).toMatchObject({
      id: issued.id,
      deliveryId: input.deliveryId,
      buyerId: input.buyerId,
      providerId: input.providerId,
      kind: 'audit',
      signingKeyId: decodeProtectedHeader(issued.token).kid,
      expiresAt: issued.expiresAt,
      revokedAt: null,
    });
    expect(await service.keysOfDelivery('not-a-uuid')).toEqual([]);
  });

  test("written in the caller's transaction: a rollback leaves no key", async () => {
    const service = new DeliveryKeysService(dataSource);
    const input = anIssue();
    await expect(
      dataSource.transaction(async (manager) => {
        await service.issue(input, manager);
        expect(await service.keysOfDelivery(input.deliveryId, manager)).toHaveLength(1);
        throw new Error('the delivery could not be created');
      }),
    ).rejects.toThrow('the delivery could not be created');
    expect(await service.keysOfDelivery(input.deliveryId)).toEqual([]);
  });

  test('refuses a key that would already be expired, or ill-formed ids', async () => {
    const service = new DeliveryKeysService(dataSource);
    await expect(service.issue(anIssue({ expiresAt: new Date(Date.now() - 1000) }))).rejects.toMatchObject({ code: 'DELIVERY_KEY_EXPIRY_INVALID' });
    await expect(service.issue(anIssue({ buyerId: 'bob' }))).rejects.toBeInstanceOf(DomainError);
  });

  test('a revoked key is listed and refused by the verifier', async () => {
    const service = new DeliveryKeysService(dataSource);
    const input = anIssue();
    const issued = await service.issue(input);
    const sibling = await service.issue({ ...input });

    expect(await service.revoke(issued.id, randomUUID())).toBe(false); // not in that delivery
    expect(await service.revoke(issued.id, input.deliveryId)).toBe(true);
    expect(await service.revoke(issued.id)).toBe(false); // once
    expect(await service.revoke(randomUUID())).toBe(false);
    expect(await service.revoke('not-a-uuid')).toBe(false);

    const { revoked } = await service.revoked();
    expect(revoked).toContainEqual({ jti: issued.id, exp: issued.expiresAt.getTime() / 1000 });
    expect(revoked.map((r) => r.jti)).not.toContain(sibling.id);

    const revokedIds = new Set(revoked.map((r) => r.jti));
    const jwks = await service.jwks();
    const isRevoked = (id: string) => revokedIds.has(id);
    expect(await reasonOf(verifyDeliveryKey(issued.token, jwks, { isRevoked }))).toBe('revoked');
    expect(await reasonOf(verifyDeliveryKey(sibling.token, jwks, { isRevoked }))).toBe('accepted');

    const records = await service.keysOfDelivery(input.deliveryId);
    expect(records.find((r) => r.id === issued.id)?.revokedAt).toBeInstanceOf(Date);
    expect(records.find((r) => r.id === sibling.id)?.revokedAt).toBeNull();
  });

  test('a revoked key drops off the list once it has expired', async () => {
    const service = new DeliveryKeysService(dataSource);
    const issued = await service.issue(anIssue({ expiresAt: new Date(Date.now() + 60_000) }));
    await service.revoke(issued.id);
    const revokedIds = async (now?: Date) => (await service.revoked(now)).revoked.map((r) => r.jti);
    expect(await revokedIds()).toContain(issued.id);
    expect(await revokedIds(new Date(issued.expiresAt.getTime() + 1000))).not.toContain(issued.id);

    // And with the real clock, once its expiry has passed.
    await dataSource.query(`UPDATE delivery_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [issued.id]);
    expect(await revokedIds()).not.toContain(issued.id);
  });
});
