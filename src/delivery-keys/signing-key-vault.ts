import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Seals the private halves of delivery-key signing keys for storage (AES-256-GCM, node:crypto):
 * whoever reads the `signing_keys` table, or a backup of it, cannot mint delivery keys without
 * SIGNING_KEYS_ENCRYPTION_KEY as well. Stored form:
 *   tokex-aes256gcm:v1:<key id>:<iv>:<tag>:<ciphertext>     (base64url parts)
 * The key id names which configured key sealed it (a hash, which reveals nothing of the key), so
 * a rotation can open rows sealed under a previous key; the row's `kid` is authenticated with it,
 * so a sealed key copied onto another row does not open. Without a configured key, rows are
 * stored as the PEM itself (development only).
 */
const PREFIX = 'tokex-aes256gcm:v1:';

export class SigningKeyVaultError extends Error {
  override readonly name = 'SigningKeyVaultError';
}

/** A short public name of an encryption key: the first 16 hex digits of a SHA-256 over it. */
export const encryptionKeyId = (key: Buffer) => createHash('sha256').update('tokex signing keys\0').update(key).digest('hex').slice(0, 16);

export class SigningKeyVault {
  private readonly keys: Map<string, Buffer>;
  private readonly currentId: string | null;

  /** `current` seals; `current` and `previous` open. */
  constructor(current: Buffer | null, previous: readonly Buffer[] = []) {
    for (const key of [...(current ? [current] : []), ...previous]) {
      if (key.length !== 32) throw new SigningKeyVaultError('signing-key encryption keys must be 32 bytes');
    }
    this.currentId = current ? encryptionKeyId(current) : null;
    this.keys = new Map([...previous, ...(current ? [current] : [])].map((k) => [encryptionKeyId(k), k]));
  }

  get encrypts(): boolean {
    return this.currentId !== null;
  }

  static isSealed(stored: string): boolean {
    return stored.startsWith(PREFIX);
  }

  /** What to store for the PEM private key of signing key `kid`. */
  seal(kid: string, pem: string): string {
    if (this.currentId === null) return pem;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentId)!, iv);
    cipher.setAAD(Buffer.from(kid, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(pem, 'utf8'), cipher.final()]);
    return `${PREFIX}${this.currentId}:${[iv, cipher.getAuthTag(), ciphertext].map((b) => b.toString('base64url')).join(':')}`;
  }

  /** The PEM private key of signing key `kid` from what is stored; throws SigningKeyVaultError naming what is wrong. */
  open(kid: string, stored: string): string {
    if (!SigningKeyVault.isSealed(stored)) return stored;
    const [keyId, iv, tag, ciphertext] = stored.slice(PREFIX.length).split(':');
    const key = this.keys.get(keyId);
    if (!key) {
      throw new SigningKeyVaultError(
        this.keys.size === 0
          ? `signing key ${kid} is encrypted (with key ${keyId}) but SIGNING_KEYS_ENCRYPTION_KEY is not set`
          : `signing key ${kid} is encrypted with key ${keyId}, which is neither SIGNING_KEYS_ENCRYPTION_KEY (${this.currentId ?? 'not set'}) nor one of SIGNING_KEYS_PREVIOUS_ENCRYPTION_KEYS`,
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(kid, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SigningKeyVaultError(`signing key ${kid} does not decrypt with key ${keyId}: the row was altered or belongs to another key id`);
    }
  }

  /** Whether a stored row should be sealed again: plaintext while a key is set, or sealed under a previous key. */
  needsResealing(stored: string): boolean {
    if (this.currentId === null) return false;
    return !SigningKeyVault.isSealed(stored) || !stored.startsWith(`${PREFIX}${this.currentId}:`);
  }
}
