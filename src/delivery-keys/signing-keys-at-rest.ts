import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { SIGNING_KEYS_LOCK } from './delivery-keys.service.js';
import { SigningKeyVault } from './signing-key-vault.js';

/** The vault the configuration describes. */
export const signingKeyVaultOf = (config: AppConfig) => new SigningKeyVault(config.signingKeys.encryptionKey, config.signingKeys.previousEncryptionKeys);

/**
 * At start-up, before anything signs: every stored signing key must open with the configured
 * keys, or the process refuses to start naming the row and the key it needs (a wrong or missing
 * SIGNING_KEYS_ENCRYPTION_KEY is found now, not at the first delivery key). With a key set, rows
 * still in plaintext or sealed under a previous key are sealed with the current one, all in one
 * transaction under the signing keys' lock (processes starting together do it once).
 */
@Injectable()
export class SigningKeysAtRest implements OnModuleInit {
  private readonly logger = new Logger(SigningKeysAtRest.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly vault: SigningKeyVault,
  ) {}

  async onModuleInit(): Promise<void> {
    const resealed = await this.dataSource.transaction(async (manager) => {
      await manager.query(SIGNING_KEYS_LOCK);
      const rows: Array<{ kid: string; private_pkcs8: string }> = await manager.query(`SELECT kid, private_pkcs8 FROM signing_keys ORDER BY kid`);
      // Every row opened before any is written: a wrong key changes nothing.
      const stale = rows.map((r) => ({ ...r, pem: this.vault.open(r.kid, r.private_pkcs8) })).filter((r) => this.vault.needsResealing(r.private_pkcs8));
      for (const row of stale) {
        await manager.query(`UPDATE signing_keys SET private_pkcs8 = $2 WHERE kid = $1`, [row.kid, this.vault.seal(row.kid, row.pem)]);
      }
      return stale.length;
    });
    if (resealed > 0) this.logger.log({ resealed }, 'signing keys sealed with SIGNING_KEYS_ENCRYPTION_KEY');
    if (!this.vault.encrypts && this.config.env === 'production') {
      this.logger.warn('SIGNING_KEYS_ENCRYPTION_KEY is not set: delivery-key signing keys are stored in plaintext');
    }
  }
}
