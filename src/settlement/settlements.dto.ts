import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID } from 'class-validator';
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
