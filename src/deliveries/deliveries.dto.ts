import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { PageOf, PageQuery } from '../platform/http/pagination.js';
import { DELIVERY_OUTCOMES, DELIVERY_STATUSES, type DeliveryOutcome, type DeliveryStatus } from './delivery.entity.js';

export class DeliveryQuery extends PageQuery {
  @ApiPropertyOptional({ enum: ['buyer', 'provider'], description: 'Only deliveries where you are this party' })
  @IsOptional() @IsIn(['buyer', 'provider'])
  as?: 'buyer' | 'provider';

  @ApiPropertyOptional({ enum: DELIVERY_STATUSES }) @IsOptional() @IsIn(DELIVERY_STATUSES)
  status?: DeliveryStatus;
}

export class DeliveryView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() instrument: string;
  @ApiProperty() modelClass: string;
  @ApiProperty({ description: 'The fill this delivery came from' }) fillId: string;
  @ApiProperty({ enum: ['buyer', 'provider'], description: 'Your side of it' }) role: 'buyer' | 'provider';
  @ApiProperty({ format: 'uuid' }) buyerId: string;
  @ApiProperty({ format: 'uuid' }) providerId: string;
  @ApiProperty({ description: 'USD per 1,000,000 tokens' }) price: string;
  @ApiProperty({ description: 'Tokens bought' }) ordered: number;
  @ApiProperty({ description: 'Verified billable tokens served so far' }) delivered: number;
  @ApiProperty({ description: 'Tokens paid to the provider (delivered, or taken-or-paid at close)' }) paid: number;
  @ApiProperty({ description: 'Tokens under dispute, held out of settlement' }) disputed: number;
  @ApiProperty({ description: 'Tokens still to be served in the window (0 once closed)' }) remaining: number;
  @ApiProperty({ description: 'USD the buyer put in escrow' }) notional: string;
  @ApiProperty({ description: 'USD still in escrow' }) escrow: string;
  @ApiProperty({ description: 'USD paid to the provider, after its fee' }) providerPaid: string;
  @ApiProperty({ description: 'USD refunded to the buyer (breach)' }) refunded: string;
  @ApiProperty({ description: 'USD penalty paid to the buyer from the provider bond (breach)' }) penalty: string;
  @ApiProperty() windowStart: string;
  @ApiProperty() windowEnd: string;
  @ApiProperty({ enum: DELIVERY_STATUSES }) status: DeliveryStatus;
  @ApiProperty({ enum: DELIVERY_OUTCOMES, nullable: true }) outcome: DeliveryOutcome | null;
  @ApiProperty({ nullable: true }) closedAt: string | null;
}

export class DeliveryPage extends PageOf(DeliveryView) {}

export class IssueDeliveryKeyDto {
  @ApiPropertyOptional({ description: 'Seconds the key lives; at most until the window ends (the default)', minimum: 60 })
  @IsOptional() @Type(() => Number) @IsInt() @Min(60) @Max(31 * 86_400)
  expiresInSeconds?: number;
}

export class DeliveryKeyView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ description: 'Use as the API key (Bearer token) at the provider node; shown once' }) token: string;
  @ApiProperty() expiresAt: string;
}

export class DeliveryKeyInfo {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() expiresAt: string;
  @ApiProperty({ nullable: true }) revokedAt: string | null;
  @ApiProperty() createdAt: string;
}
