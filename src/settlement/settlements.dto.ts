import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsNotEmpty, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { PageOf, PageQuery } from '../platform/http/pagination.js';
import { SETTLEMENT_KINDS, SETTLEMENT_STATUSES, type SettlementKind, type SettlementStatus } from './settlement.entity.js';

export class SettlementQuery extends PageQuery {
  @ApiPropertyOptional({ enum: SETTLEMENT_KINDS }) @IsOptional() @IsIn(SETTLEMENT_KINDS)
  kind?: SettlementKind;

  @ApiPropertyOptional({ enum: SETTLEMENT_STATUSES }) @IsOptional() @IsIn(SETTLEMENT_STATUSES)
  status?: SettlementStatus;

  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID()
  deliveryId?: string;
}

export class AdminSettlementQuery extends SettlementQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'Steps where this participant is the buyer or the provider' })
  @IsOptional() @IsUUID()
  participantId?: string;

  @ApiPropertyOptional({ description: 'Steps recorded at or after this time (ISO 8601)', example: '2026-11-26T00:00:00Z' })
  @IsOptional() @IsISO8601({ strict: true }, { message: 'from must be an ISO 8601 time' })
  from?: string;

  @ApiPropertyOptional({ description: 'Steps recorded before this time (ISO 8601)', example: '2026-11-27T00:00:00Z' })
  @IsOptional() @IsISO8601({ strict: true }, { message: 'to must be an ISO 8601 time' })
  to?: string;
}

export class RetrySettlementDto {
  @ApiProperty({ description: 'Why the step is retried (kept in the audit trail)', maxLength: 500 })
  @IsString() @IsNotEmpty({ message: 'reason is required' }) @MaxLength(500)
  reason: string;
}

export class SettlementView {
  @ApiProperty() id: string;
  @ApiProperty({ description: 'The step’s business key; its ledger transfer ids derive from it' }) key: string;
  @ApiProperty({ enum: SETTLEMENT_KINDS }) kind: SettlementKind;
  @ApiProperty({ format: 'uuid' }) deliveryId: string;
  @ApiProperty({ format: 'uuid' }) buyerId: string;
  @ApiProperty({ format: 'uuid' }) providerId: string;
  @ApiProperty({ description: 'Tokens the step settled' }) tokens: number;
  @ApiProperty({ description: 'USD by destination, as decimal strings', example: { providerPayout: '0.399600', providerFee: '0.000400' } })
  amounts: Record<string, string>;
  @ApiProperty({ type: String, isArray: true }) transferIds: string[];
  @ApiProperty({ enum: SETTLEMENT_STATUSES }) status: SettlementStatus;
  @ApiProperty() attempts: number;
  @ApiProperty({ nullable: true }) error: string | null;
  @ApiProperty() createdAt: string;
}

export class SettlementPage extends PageOf(SettlementView) {}

export class SettlementDeliveryView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() instrument: string;
  @ApiProperty() modelClass: string;
  @ApiProperty({ format: 'uuid' }) buyerId: string;
  @ApiProperty({ format: 'uuid' }) providerId: string;
  @ApiProperty({ description: 'USD per 1,000,000 tokens' }) price: string;
  @ApiProperty() ordered: number;
  @ApiProperty() delivered: number;
  @ApiProperty() paid: number;
  @ApiProperty() disputed: number;
  @ApiProperty() notional: string;
  @ApiProperty() escrow: string;
  @ApiProperty() providerPaid: string;
  @ApiProperty() refunded: string;
  @ApiProperty() penalty: string;
  @ApiProperty() windowStart: string;
  @ApiProperty() windowEnd: string;
  @ApiProperty({ enum: ['open', 'closed'] }) status: string;
  @ApiProperty({ nullable: true, type: String }) outcome: string | null;
  @ApiProperty({ nullable: true, type: String }) closedAt: string | null;
}

export class UsagePaidView {
  @ApiProperty({ description: 'The usage’s business key' }) id: string;
  @ApiProperty() tokens: number;
  @ApiProperty() recordedAt: string;
}

class TransferSideView {
  @ApiProperty() accountId: string;
  @ApiProperty({ nullable: true, type: String, description: 'null: a system account' }) participantId: string | null;
  @ApiProperty() kind: string;
}

export class SettlementTransferView {
  @ApiProperty() id: string;
  @ApiProperty({ description: 'false: planned by a failed step, never made' }) made: boolean;
  @ApiProperty({ nullable: true, type: String }) code: string | null;
  @ApiProperty({ nullable: true, type: String }) amount: string | null;
  @ApiProperty({ type: TransferSideView, nullable: true }) debit: TransferSideView | null;
  @ApiProperty({ type: TransferSideView, nullable: true }) credit: TransferSideView | null;
  @ApiProperty({ nullable: true, type: String }) createdAt: string | null;
}

export class SettlementDetail {
  @ApiProperty({ type: SettlementView }) settlement: SettlementView;
  @ApiProperty({ type: SettlementDeliveryView }) delivery: SettlementDeliveryView;
  @ApiProperty({ type: UsagePaidView, isArray: true, description: 'The verified usage this step paid (payouts)' }) usage: UsagePaidView[];
  @ApiProperty({ type: SettlementTransferView, isArray: true, description: 'Its ledger transfers, in the order recorded' }) transfers: SettlementTransferView[];
}
