import { Module } from '@nestjs/common';
import { DeliveryKeysService } from './delivery-keys.service.js';

/** Issues and revokes delivery keys; the deliveries module exposes them over HTTP. */
@Module({ providers: [DeliveryKeysService], exports: [DeliveryKeysService] })
export class DeliveryKeysModule {}
