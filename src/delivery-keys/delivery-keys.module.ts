import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { DeliveryKeysService } from './delivery-keys.service.js';
import { SigningKeyVault } from './signing-key-vault.js';
import { signingKeyVaultOf, SigningKeysAtRest } from './signing-keys-at-rest.js';

/** Issues and revokes delivery keys; the deliveries module exposes them over HTTP. Signing keys are sealed at rest. */
@Module({
  providers: [
    DeliveryKeysService,
    SigningKeysAtRest,
    { provide: SigningKeyVault, useFactory: (config: AppConfig) => signingKeyVaultOf(config), inject: [APP_CONFIG] },
  ],
  exports: [DeliveryKeysService],
})
export class DeliveryKeysModule {}
