import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { DeliveryKeysService } from '../../src/delivery-keys/delivery-keys.service.js';
import { encryptionKeyId, SigningKeyVault } from '../../src/delivery-keys/signing-key-vault.js';
import { callService, childServiceEnv, type ChildService, spawnService } from '../support/child-service.js';
import { type OwnDatabase, ownDatabase } from '../support/own-database.js';
import { BOOTSTRAP_ADMIN_KEY, startTestApp, TEST_DATABASE_URL } from '../support/test-app.js';

/** Secrets stay secret (issue 14, item 8): not in logs, and signing keys not in plaintext at rest. */

describe('a 500 on a statement that carries a secret', () => {
  let service: ChildService;
  let baseUrl: string;
  const label = `refuse me ${randomUUID()}`;
  let admin: pg.Client;

  beforeAll(async () => {
    service = spawnService('api', { ...childServiceEnv('secrets'), LOG_LEVEL: 'info' });
    baseUrl = JSON.parse(await service.waitForLine(/tokex listening/, 60_000)).url; // migrated, so the table is there
    admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    // A statement made to fail: the new key's insert, with a detail that quotes its hash as PostgreSQL's own errors do.
    await admin.query(`CREATE OR REPLACE FUNCTION secrets_test_refuse_key() RETURNS trigger AS $$
      BEGIN
        IF NEW.label = '${label}' THEN
          RAISE EXCEPTION 'refused by the test' USING DETAIL = 'Key (key_hash)=(' || encode(NEW.key_hash, 'hex') || ') refused.';
        END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql`);
    await admin.query(`CREATE OR REPLACE TRIGGER secrets_test_refuse_key BEFORE INSERT ON api_keys FOR EACH ROW EXECUTE FUNCTION secrets_test_refuse_key()`);
  }, 90_000);
  afterAll(async () => {
    service?.process.kill('SIGTERM');
    await service?.exited();
    await admin?.query(`DROP TRIGGER IF EXISTS secrets_test_refuse_key ON api_keys`);
    await admin?.end();
  });

  test('is logged with its SQL and correlation id, never its parameters or the values PostgreSQL quotes', async () => {
    const me = await callService(baseUrl, 'GET', '/v1/me', BOOTSTRAP_ADMIN_KEY);
    const answer = await callService(baseUrl, 'POST', `/v1/participants/${me.body.id}/api-keys`, BOOTSTRAP_ADMIN_KEY, { label });
    expect(answer.status).toBe(500);
    const line = await service.waitForLine(new RegExp(answer.body.correlationId));
    const logged = JSON.parse(line);
    expect(logged.err).toMatchObject({ type: 'QueryFailedError', query: expect.stringContaining('INSERT INTO api_keys'), parameterCount: 4 });
    expect(logged.err.detail).toBe('Key (key_hash)=([redacted]) refused.');
    expect(line).not.toMatch(/"parameters"|"type":"Buffer"|[0-9a-f]{64}/);
    expect(service.output()).not.toContain(label.slice('refuse me '.length)); // not even the label, which is a parameter too
  });
});

describe('delivery-key signing keys at rest', () => {
  let vault: OwnDatabase;
  let url: string;
  const [first, second] = [randomBytes(32), randomBytes(32)];
  const start = (env: Record<string, string> = {}) => startTestApp({ DATABASE_URL: url, ...env });
  /**
   * A start-up that must be refused, as its own process (the built service, `api` role): it exits
   * non-zero and says why. A process of its own, so nothing of a half-started app outlives it here.
   */
  const refused = async (env: Record<string, string> = {}): Promise<string> => {
    const child = spawnService('api', { ...childServiceEnv('vault'), DATABASE_URL: url, ...env });
    const code = await child.exited();
    expect(code).not.toBe(0);
    return child.output();
  };
  const stored = async (): Promise<Array<{ kid: string; private_pkcs8: string; public_jwk: { x: string } }>> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(`SELECT kid, private_pkcs8, public_jwk FROM signing_keys ORDER BY kid`)).rows;
    } finally {
      await client.end();
    }
  };
  beforeAll(async () => {
    vault = await ownDatabase('vault');
    url = vault.url;
  });
  afterAll(async () => {
    await vault.drop();
  });

  test('are sealed at start-up once a key is set, open for signing, and never stored in plaintext again', async () => {
    const plain = await start(); // development without a key: plaintext
    await plain.app.get(DeliveryKeysService).signingKeyId();
    await plain.close();
    expect((await stored())[0].private_pkcs8).toMatch(/^-----BEGIN PRIVATE KEY-----/);

    const sealed = await start({ SIGNING_KEYS_ENCRYPTION_KEY: first.toString('base64') });
    const keys = sealed.app.get(DeliveryKeysService);
    const rotated = await keys.rotateSigningKey(); // a new key, sealed as it is written
    expect(await keys.signingKeyId()).toBe(rotated.kid); // opened and imported to sign
    await sealed.close();
    const rows = await stored();
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.private_pkcs8).toMatch(new RegExp(`^tokex-aes256gcm:v1:${encryptionKeyId(first)}:`));
      expect(row.private_pkcs8).not.toContain('PRIVATE KEY');
      // what it seals is the private half of the published key
      const pem = new SigningKeyVault(first).open(row.kid, row.private_pkcs8);
      expect(createPublicKey(pem).export({ format: 'jwk' }).x).toBe(row.public_jwk.x);
    }
  });

  test('a wrong or missing key refuses to start, naming what is needed, and changes nothing', async () => {
    const before = await stored();
    expect(await refused({ SIGNING_KEYS_ENCRYPTION_KEY: second.toString('base64') })).toMatch(
      new RegExp(`signing key \\S+ is encrypted with key ${encryptionKeyId(first)}, which is neither SIGNING_KEYS_ENCRYPTION_KEY \\(${encryptionKeyId(second)}\\) nor one of SIGNING_KEYS_PREVIOUS_ENCRYPTION_KEYS`),
    );
    expect(await refused()).toMatch(/is encrypted \(with key \w+\) but SIGNING_KEYS_ENCRYPTION_KEY is not set/);
    expect(await stored()).toEqual(before);
  });

  test('rotation: with the old key as previous, every row is sealed again under the new one', async () => {
    const rotating = await start({ SIGNING_KEYS_ENCRYPTION_KEY: second.toString('base64'), SIGNING_KEYS_PREVIOUS_ENCRYPTION_KEYS: first.toString('base64') });
    await rotating.close();
    for (const row of await stored()) expect(row.private_pkcs8).toMatch(new RegExp(`^tokex-aes256gcm:v1:${encryptionKeyId(second)}:`));
    const after = await start({ SIGNING_KEYS_ENCRYPTION_KEY: second.toString('base64') });
    await after.app.get(DeliveryKeysService).signingKeyId();
    await after.close();
    expect(await refused({ SIGNING_KEYS_ENCRYPTION_KEY: first.toString('base64') })).toMatch(/is encrypted with key/);
  });
});
