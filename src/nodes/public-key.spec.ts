import { describe, expect, test } from '@jest/globals';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { nodePublicKey, parseEd25519PublicKey } from './public-key.js';

const ed25519 = generateKeyPairSync('ed25519');
const der = ed25519.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
const pem = ed25519.publicKey.export({ format: 'pem', type: 'spki' }).toString();

describe('node public keys', () => {
  test('base64 SPKI DER and PEM are the same key, stored as base64 SPKI DER', () => {
    expect(parseEd25519PublicKey(der)).toEqual({ ok: true, value: der });
    expect(parseEd25519PublicKey(pem)).toEqual({ ok: true, value: der });
    expect(parseEd25519PublicKey(`\n${pem}\n`)).toEqual({ ok: true, value: der });
    expect(der).toMatch(/^MCowBQYDK2VwAyEA/);
  });

  test('the stored form verifies what the private key signed', () => {
    const body = Buffer.from('{"batchId":"b-1"}');
    const signature = sign(null, body, ed25519.privateKey);
    expect(verify(null, body, nodePublicKey(der), signature)).toBe(true);
    expect(verify(null, Buffer.from('{"batchId":"b-2"}'), nodePublicKey(der), signature)).toBe(false);
  });

  test.each([
    ['an RSA key', generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64'), /type rsa/],
    ['an X25519 key', generateKeyPairSync('x25519').publicKey.export({ format: 'pem', type: 'spki' }).toString(), /type x25519/],
    ['an EC key', generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64'), /type ec/],
    ['the private key', ed25519.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), /private key/],
    ['the raw 32 bytes', Buffer.from(der, 'base64').subarray(12).toString('base64'), /raw 32-byte key/],
    ['truncated DER', der.slice(0, 40), /Ed25519 public key/],
    ['a PEM of another type', pem.replace(/PUBLIC KEY/g, 'CERTIFICATE'), /Ed25519 public key/],
    ['empty', '', /Ed25519 public key/],
    ['text', 'not a key', /Ed25519 public key/],
  ])('%s is refused', (_, text, reason) => {
    const parsed = parseEd25519PublicKey(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });
});
