import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Checked } from '../markets/price.js';

/**
 * Node keys (api.md, "Usage batches"): Ed25519 public keys, sent as base64 of the SPKI DER or as
 * a PEM "PUBLIC KEY" block, and kept in one form, base64 SPKI DER, so one key has one spelling.
 */

const PEM_PUBLIC_KEY = /^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const RAW_ED25519_KEY_BYTES = 32;
const EXPECTED = 'must be an Ed25519 public key: base64 of its SPKI DER ("MCowBQYDK2VwAyEA...") or a PEM "PUBLIC KEY" block';

/** Parses and normalises a node's public key to base64 SPKI DER, or says why it is not one. */
export function parseEd25519PublicKey(text: string): Checked<string> {
  const trimmed = text.trim();
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(trimmed)) return { ok: false, reason: 'is a private key: register only the public key' };
  let key: KeyObject;
  try {
    if (trimmed.startsWith('-----')) {
      if (!PEM_PUBLIC_KEY.test(trimmed)) return { ok: false, reason: EXPECTED };
      key = createPublicKey({ key: trimmed, format: 'pem' });
    } else {
      if (trimmed === '' || !BASE64.test(trimmed)) return { ok: false, reason: EXPECTED };
      const der = Buffer.from(trimmed, 'base64');
      if (der.length === RAW_ED25519_KEY_BYTES) {
        return { ok: false, reason: 'is a raw 32-byte key: send its SPKI DER (44 bytes, base64 "MCowBQYDK2VwAyEA" then the key)' };
      }
      key = createPublicKey({ key: der, format: 'der', type: 'spki' });
    }
  } catch {
    return { ok: false, reason: EXPECTED };
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    return { ok: false, reason: `is a key of type ${key.asymmetricKeyType ?? 'unknown'}: nodes sign with Ed25519` };
  }
  return { ok: true, value: key.export({ format: 'der', type: 'spki' }).toString('base64') };
}

/** The stored key as a KeyObject, for `crypto.verify(null, body, key, signature)`. */
export function nodePublicKey(spkiDerBase64: string): KeyObject {
  return createPublicKey({ key: Buffer.from(spkiDerBase64, 'base64'), format: 'der', type: 'spki' });
}
