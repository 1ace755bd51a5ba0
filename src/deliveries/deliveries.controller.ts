import { Body, Controller, Delete, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { DeliveryKeyRevocationList } from '../protocol/delivery-key-verifier.js';
import { DeliveryKeysService } from '../delivery-keys/delivery-keys.service.js';
import { uuidParam } from '../platform/http/params.js';
import { CurrentPrincipal, type Principal, Public, Roles } from '../platform/http/auth.js';
import { DeliveryKeyInfo, DeliveryKeyView, DeliveryPage, DeliveryQuery, DeliveryView, IssueDeliveryKeyDto } from './deliveries.dto.js';
import { DeliveriesService } from './deliveries.service.js';

@ApiTags('deliveries')
@Controller('v1')
export class DeliveriesController {
  constructor(
    private readonly deliveries: DeliveriesService,
    private readonly keys: DeliveryKeysService,
  ) {}

  @Get('deliveries')
  @ApiBearerAuth()
  @Roles('buyer', 'provider')
  @ApiOkResponse({ type: DeliveryPage })
  list(@CurrentPrincipal() actor: Principal, @Query() query: DeliveryQuery): Promise<DeliveryPage> {
    return this.deliveries.list(actor, query);
  }

  @Get('deliveries/:id')
  @ApiBearerAuth()
  @Roles('buyer', 'provider')
  @ApiOkResponse({ type: DeliveryView })
  get(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string): Promise<DeliveryView> {
    return this.deliveries.get(actor, id);
  }

  @Post('deliveries/:id/keys')
  @ApiBearerAuth()
  @Roles('buyer')
  @ApiOperation({
    summary: "A delivery key: the buyer's API key at the provider's node, scoped to this delivery",
    description: 'An EdDSA JWT the node verifies offline against /v1/.well-known/jwks.json. The token is shown once.',
  })
  @ApiCreatedResponse({ type: DeliveryKeyView })
  issueKey(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string, @Body() dto: IssueDeliveryKeyDto): Promise<DeliveryKeyView> {
    return this.deliveries.issueKey(actor, id, dto.expiresInSeconds);
  }

  @Get('deliveries/:id/keys')
  @ApiBearerAuth()
  @Roles('buyer')
  @ApiOkResponse({ type: DeliveryKeyInfo, isArray: true })
  listKeys(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string): Promise<DeliveryKeyInfo[]> {
    return this.deliveries.listKeys(actor, id);
  }

  @Delete('deliveries/:id/keys/:keyId')
  @ApiBearerAuth()
  @Roles('buyer')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Revoked; nodes refuse it from their next refresh of the revocation list' })
  revokeKey(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string, @uuidParam('keyId') keyId: string): Promise<void> {
    return this.deliveries.revokeKey(actor, id, keyId);
  }

  @Get('.well-known/jwks.json')
  @Public()
  @ApiOperation({ summary: 'The public keys that sign delivery keys (JWKS)' })
  async jwks(): Promise<unknown> {
    // The signing key exists before the first delivery key does, so nodes can load it at start.
    await this.keys.signingKeyId();
    return this.keys.jwks();
  }

  @Get('delivery-keys/revoked')
  @Public()
  @ApiOperation({ summary: 'Delivery keys revoked before their expiry, for nodes to refuse: each key id (jti) with its exp (unix seconds)' })
  @ApiOkResponse({
    schema: {
      type: 'object',
      required: ['revoked'],
      properties: {
        revoked: {
          type: 'array',
          items: {
            type: 'object',
            required: ['jti', 'exp'],
            properties: { jti: { type: 'string', format: 'uuid' }, exp: { type: 'integer', description: 'unix seconds' } },
          },
        },
      },
    },
  })
  revoked(): Promise<DeliveryKeyRevocationList> {
    return this.keys.revoked();
  }
}
