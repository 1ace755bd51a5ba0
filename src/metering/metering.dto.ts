import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsIn, IsInt, IsOptional, IsString, IsUUID, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
import { PageOf, PageQuery } from '../platform/http/pagination.js';
import { DISPUTE_RESOLUTIONS, DISPUTE_STATUSES, type DisputeResolution } from './metering.entities.js';

export class RejectedRecordView {
  @ApiProperty() index: number;
  @ApiProperty({ nullable: true, type: String }) requestId: string | null;
  @ApiProperty() reason: string;
}

export class UsageBatchAnswer {
  @ApiProperty() batchId: string;
  @ApiProperty({ enum: ['queued'] }) status: 'queued';
  @ApiProperty({ type: String, isArray: true, description: 'Request ids stored for verification' }) accepted: string[];
  @ApiProperty({ type: String, isArray: true, description: 'Request ids already counted in an earlier batch: ignored' }) duplicates: string[];
  @ApiProperty({ type: RejectedRecordView, isArray: true, description: 'Malformed records, with the reason' }) rejected: RejectedRecordView[];
}

export class BuyerRequestCount {
  @ApiProperty() @IsString() @MinLength(1) @MaxLength(128)
  requestId: string;

  @ApiProperty() @IsInt() @Min(0) @Max(10_000_000)
  promptTokens: number;

  @ApiProperty() @IsInt() @Min(0) @Max(10_000_000)
  completionTokens: number;
}

export class BuyerReportDto {
  @ApiProperty({ format: 'uuid' }) @IsUUID()
  deliveryId: string;

  @ApiProperty({ type: BuyerRequestCount, isArray: true })
  @ValidateNested({ each: true }) @Type(() => BuyerRequestCount) @ArrayMinSize(1) @ArrayMaxSize(5_000)
  records: BuyerRequestCount[];
}

export class BuyerReportAnswer {
  @ApiProperty() accepted: number;
  @ApiProperty() duplicates: number;
}

export class DisputeQuery extends PageQuery {
  @ApiPropertyOptional({ enum: DISPUTE_STATUSES }) @IsOptional() @IsIn(DISPUTE_STATUSES)
  status?: (typeof DISPUTE_STATUSES)[number];

  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID()
  deliveryId?: string;
}

export class ResolveDisputeDto {
  @ApiProperty({ enum: DISPUTE_RESOLUTIONS, description: 'provider: pay the provider for all; buyer: for none; split: for providerTokens' })
  @IsIn(DISPUTE_RESOLUTIONS)
  resolution: DisputeResolution;

  @ApiPropertyOptional({ description: 'split only: how many of the disputed tokens the provider is paid for' })
  @IsOptional() @IsInt() @Min(0)
  providerTokens?: number;

  @ApiProperty({ minLength: 3, maxLength: 1000 }) @IsString() @MinLength(3) @MaxLength(1000)
  reason: string;
}

export class DisputeView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() kind: string;
  @ApiProperty({ format: 'uuid' }) deliveryId: string;
  @ApiProperty({ format: 'uuid' }) nodeId: string;
  @ApiProperty({ format: 'uuid' }) providerId: string;
  @ApiProperty({ format: 'uuid' }) buyerId: string;
  @ApiProperty({ description: 'Billable tokens held out of settlement' }) tokens: number;
  @ApiProperty({ type: Object }) evidence: Record<string, unknown>;
  @ApiProperty({ enum: DISPUTE_STATUSES }) status: string;
  @ApiProperty({ nullable: true, enum: DISPUTE_RESOLUTIONS }) resolution: DisputeResolution | null;
  @ApiProperty({ nullable: true }) providerTokens: number | null;
  @ApiProperty({ nullable: true }) reason: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty({ nullable: true }) resolvedAt: string | null;
}

export class DisputePage extends PageOf(DisputeView) {}
