import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { PageOf, PageQuery } from '../platform/http/pagination.js';
import { DELIVERY_PHASES, type ClosingWait, type DeliveryPhase } from './core/delivery-phase.js';
import { SettlementDeliveryView, SettlementView } from './settlements.dto.js';

export const DELIVERY_STATES = [...DELIVERY_PHASES, 'breach'] as const;
export type DeliveryStateFilter = (typeof DELIVERY_STATES)[number];

export class AdminDeliveryQuery extends PageQuery {
  @ApiPropertyOptional({ enum: DELIVERY_STATES, description: 'open; closing (window ended, not closed); closed; breach (closed in breach, or its evidence says breach now)' })
  @IsOptional() @IsIn(DELIVERY_STATES, { message: `state must be one of: ${DELIVERY_STATES.join(', ')}` })
  state?: DeliveryStateFilter;

  @ApiPropertyOptional({ description: 'Instrument symbol' }) @IsOptional() @IsString() @MaxLength(100)
  instrument?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Deliveries where this participant is the buyer or the provider' })
  @IsOptional() @IsUUID('all', { message: 'participantId must be a UUID' })
  participantId?: string;
}

export class AdminDeliveryView extends SettlementDeliveryView {
  @ApiProperty({ enum: DELIVERY_PHASES }) phase: DeliveryPhase;
  @ApiProperty({ enum: ['grace', 'dispute', 'failed_step', 'sweep'], nullable: true, description: 'Why a closing delivery is not closed yet' })
  waitingOn: ClosingWait | null;
  @ApiProperty({ nullable: true, type: String, description: 'When the close is due (window end plus the grace period)' }) closeDueAt: string | null;
  @ApiProperty({ description: 'Closed in breach, or not closed and its evidence says breach now' }) inBreach: boolean;
  @ApiProperty({ description: 'Its settlement steps that failed and wait for a retry' }) failedSteps: number;
}

export class AdminDeliveryPage extends PageOf(AdminDeliveryView) {}

class ProbeVerdictView {
  @ApiProperty({ description: 'Probes taken inside the judged span' }) probes: number;
  @ApiProperty() failedProbes: number;
  @ApiProperty({ description: 'Milliseconds the provider was down in the judged span' }) downMs: number;
  @ApiProperty() windowMs: number;
  @ApiProperty() breach: boolean;
}

class RequestEvidenceView {
  @ApiProperty({ description: "The buyer's requests metering recorded (audit requests excluded)" }) total: number;
  @ApiProperty({ description: 'Of them, failed or out of the SLA' }) bad: number;
  @ApiProperty() breach: boolean;
}

class AuditEvidenceView {
  @ApiProperty({ description: "The exchange's audits of the provider's nodes of the model class in the judged span" }) total: number;
  @ApiProperty({ description: 'Of them, refused, failed or answered with nothing to re-count' }) failed: number;
  @ApiProperty() breach: boolean;
}

export class SlaEvidenceView {
  @ApiProperty({ description: 'The span judged: the window, or its part until now while it is open' }) from: string;
  @ApiProperty() until: string;
  @ApiProperty({ type: ProbeVerdictView }) probes: ProbeVerdictView;
  @ApiProperty({ type: RequestEvidenceView }) requests: RequestEvidenceView;
  @ApiProperty({ type: AuditEvidenceView }) audits: AuditEvidenceView;
  @ApiProperty({ description: 'What a close would judge on this evidence' }) breach: boolean;
}

export class ProbeView {
  @ApiProperty({ format: 'uuid' }) nodeId: string;
  @ApiProperty() probedAt: string;
  @ApiProperty() ok: boolean;
  @ApiProperty({ nullable: true, type: Number }) statusCode: number | null;
  @ApiProperty({ nullable: true, type: Number }) latencyMs: number | null;
  @ApiProperty({ nullable: true, type: String }) error: string | null;
}

export class AdminDeliveryDetail {
  @ApiProperty({ type: AdminDeliveryView }) delivery: AdminDeliveryView;
  @ApiProperty({ type: SlaEvidenceView }) evidence: SlaEvidenceView;
  @ApiProperty({ type: ProbeView, isArray: true, description: "The latest probes of the provider's nodes in the window (at most 200)" }) probes: ProbeView[];
  @ApiProperty({ type: SettlementView, isArray: true }) settlements: SettlementView[];
}
