import { ApiProperty, ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsIn, IsInt, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
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

  @ApiProperty({ minLength: 3, maxLength: 1000, description: 'Why: recorded with the resolution and in the audit trail' })
  @IsString() @MinLength(3) @MaxLength(1000) @Matches(/\S/, { message: 'reason must not be blank' })
  reason: string;
}

/** The money a resolution for the buyer moved (market-rules §7): its tokens' escrow back, and the penalty from the provider's bond. */
export class DisputeRefundView {
  @ApiProperty({ description: 'The settlement step that recorded it' }) settlementId: string;
  @ApiProperty({ description: 'Tokens resolved for the buyer: never paid to the provider' }) tokens: number;
  @ApiProperty({ example: '0.000026', description: "Their escrow, back to the buyer's available cash (USD)" }) buyerRefund: string;
  @ApiProperty({ example: '0.000003', description: "The breach penalty on it, from the provider's bond to the buyer (USD)" }) penalty: string;
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
  @ApiProperty({ nullable: true, type: DisputeRefundView, description: 'What the buyer was refunded, when it was awarded tokens of an open delivery' })
  refund: DisputeRefundView | null;
  @ApiProperty() createdAt: string;
  @ApiProperty({ nullable: true }) resolvedAt: string | null;
}

export class DisputePage extends PageOf(DisputeView) {}

export class NodeReportRecordView {
  @ApiProperty() requestId: string;
  @ApiProperty() model: string;
  @ApiProperty() promptTokens: number;
  @ApiProperty() completionTokens: number;
  @ApiProperty({ description: 'Billable tokens as the node reported them' }) reportedBillable: number;
  @ApiProperty({ nullable: true, type: Number, description: 'Billable tokens verification accepted' }) billableTokens: number | null;
  @ApiProperty({ nullable: true, enum: ['verified', 'disputed', 'rejected', 'audit'] }) verdict: string | null;
  @ApiProperty({ type: String, isArray: true }) flags: string[];
  @ApiProperty({ nullable: true, type: Boolean }) withinSla: boolean | null;
  @ApiProperty({ enum: ['ok', 'error'] }) status: string;
  @ApiProperty() startedAt: string;
  @ApiProperty() finishedAt: string;
  @ApiProperty() ttftMs: number;
}

export class NodeReportView {
  @ApiProperty() batchId: string;
  @ApiProperty({ description: "base64url Ed25519 signature of the batch's exact bytes, by the node's key" }) signature: string;
  @ApiProperty({ description: 'Records in the whole batch' }) recordCount: number;
  @ApiProperty() receivedAt: string;
  @ApiProperty({ nullable: true, type: String }) verifiedAt: string | null;
  @ApiProperty({ type: NodeReportRecordView, isArray: true, description: "The batch's records for the disputed delivery (at most 500)" }) records: NodeReportRecordView[];
}

export class BuyerCountView {
  @ApiProperty() requestId: string;
  @ApiProperty() promptTokens: number;
  @ApiProperty() completionTokens: number;
  @ApiProperty() reportedAt: string;
}

export class NodeAuditView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ nullable: true, type: String }) requestId: string | null;
  @ApiProperty() ok: boolean;
  @ApiProperty({ nullable: true, type: Number }) answeredPromptTokens: number | null;
  @ApiProperty({ nullable: true, type: Number }) answeredCompletionTokens: number | null;
  @ApiProperty({ nullable: true, type: Number, description: "The exchange's re-count of the answer with the model class's tokenizer" }) recountedCompletionTokens: number | null;
  @ApiProperty() tokenizer: string;
  @ApiProperty({ enum: ['completions', 'chat'], description: 'The API the audit went through' }) endpoint: 'completions' | 'chat';
  @ApiProperty() stream: boolean;
  @ApiProperty({ nullable: true, type: String }) error: string | null;
  @ApiProperty() createdAt: string;
}

export class CounterSampleView {
  @ApiProperty() scrapedAt: string;
  @ApiProperty({ description: 'vllm:prompt_tokens_total' }) promptTokensTotal: string;
  @ApiProperty({ description: 'vllm:generation_tokens_total' }) generationTokensTotal: string;
  @ApiProperty() requestSuccessTotal: string;
}

export class CounterGrowthView {
  @ApiProperty() promptTokens: number;
  @ApiProperty() generationTokens: number;
}

export class CounterEvidenceView {
  @ApiProperty({ description: "Start of the span: the batch's first request, or 10 minutes before the dispute" }) from: string;
  @ApiProperty() to: string;
  @ApiProperty({ type: CounterSampleView, isArray: true, description: 'From the last sample at or before `from` to the first at or after `to`' }) samples: CounterSampleView[];
  @ApiProperty({ type: CounterGrowthView, nullable: true, description: 'How much the counters grew over the samples (a drop counts as a restart)' }) growth: CounterGrowthView | null;
}

/** What an admin weighs before resolving: the node's report, the buyer's, the audits and the node's counters. */
export class DisputeEvidenceView {
  @ApiProperty({ type: NodeReportView, nullable: true, description: "The node's signed batch with the disputed request or counters; null for an audit's own mismatch" })
  nodeReport: NodeReportView | null;
  @ApiProperty({ type: BuyerCountView, isArray: true, description: "The buyer's counts of the same requests" }) buyerReport: BuyerCountView[];
  @ApiProperty({ type: NodeAuditView, isArray: true, description: "The exchange's audits of the node for this delivery or these requests (newest 50)" }) audits: NodeAuditView[];
  @ApiProperty({ type: CounterEvidenceView }) counters: CounterEvidenceView;
}

/** A dispute with the evidence side by side (GET /v1/admin/disputes/:id and the console's dispute page). */
export class DisputeDetailView extends IntersectionType(DisputeView, DisputeEvidenceView) {
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'The admin who resolved it' }) resolvedBy: string | null;
}
