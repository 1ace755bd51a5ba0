import { createHash, randomBytes } from 'node:crypto';

/**
 * API keys are `tkx_` followed by 32 random bytes in base64url (43 characters). Only a SHA-256 of
 * the whole key is stored, with its first 12 characters kept visible so people can tell keys
 * apart. A fast hash is right here: the key has 256 bits of entropy, nothing to brute-force.
 */
export const API_KEY_PREFIX = 'tkx_';
const VISIBLE_CHARACTERS = 12;

export interface NewApiKey {
  readonly key: string;
  readonly prefix: string;
  readonly hash: Buffer;
}

export function generateApiKey(): NewApiKey {
  return describeApiKey(API_KEY_PREFIX + randomBytes(32).toString('base64url'));
}

/** The stored form of a key chosen elsewhere (BOOTSTRAP_ADMIN_KEY). */
export function describeApiKey(key: string): NewApiKey {
  return { key, prefix: key.slice(0, VISIBLE_CHARACTERS), hash: hashApiKey(key) };
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}
