import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, Matches } from 'class-validator';
import { MODEL_CLASS_ID_PATTERN, MODEL_CLASS_ID_RULE } from '../markets/instrument-terms.js';
import { PageQuery } from '../platform/http/pagination.js';
import { WINDOW_NAMES, type WindowName } from './core/index.js';

const WINDOW_RULE = `window must be one of: ${WINDOW_NAMES.join(', ')}`;

export class ProviderScorecardQuery {
  @ApiPropertyOptional({ enum: WINDOW_NAMES, default: '24h', description: 'The last hour, day or 30 days (5-minute buckets; docs/scorecards.md)' })
  @IsOptional() @IsIn(WINDOW_NAMES, { message: WINDOW_RULE })
  window?: WindowName;

  @ApiPropertyOptional({ example: 'llama-3.1-70b-instruct', description: 'Only this model class' })
  @IsOptional() @Matches(MODEL_CLASS_ID_PATTERN, { message: `modelClass must be ${MODEL_CLASS_ID_RULE}` })
  modelClass?: string;
}

export class LeagueQuery extends PageQuery {
  @ApiProperty({ example: 'llama-3.1-70b-instruct' })
  @Matches(MODEL_CLASS_ID_PATTERN, { message: `modelClass must be ${MODEL_CLASS_ID_RULE}` })
  modelClass: string;

  @ApiPropertyOptional({ enum: WINDOW_NAMES, default: '24h' })
  @IsOptional() @IsIn(WINDOW_NAMES, { message: WINDOW_RULE })
  window?: WindowName;
}

export class ScorecardView {
  @ApiProperty({ example: 1200 }) requests: number;
  @ApiProperty({ example: 3 }) failedRequests: number;
  @ApiProperty({ example: 480000, description: 'Verified billable tokens (completion + weighted prompt); disputed tokens once resolved for the provider' }) verifiedTokens: number;
  @ApiProperty({ example: 120000, description: 'Verified completion tokens' }) outputTokens: number;
  @ApiProperty({ example: '61.250', nullable: true, type: String, description: 'p50 of each request’s tokens per second after its first token' }) tokensPerSecondP50: string | null;
  @ApiProperty({ example: 180, nullable: true, type: Number }) ttftMsP50: number | null;
  @ApiProperty({ example: 950, nullable: true, type: Number }) ttftMsP99: number | null;
  @ApiProperty({ example: 4200, nullable: true, type: Number, description: 'End-to-end latency (finish − start), p99' }) latencyMsP99: number | null;
  @ApiProperty({ example: 2 }) slaMisses: number;
  @ApiProperty({ example: '0.001667', nullable: true, type: String }) slaMissRate: string | null;
  @ApiProperty({ example: '0.000550', nullable: true, type: String, description: 'USD paid per 1,000 verified output tokens, at the prices actually paid' }) costPer1kOutputTokens: string | null;
  @ApiProperty({ example: '111.364', nullable: true, type: String, description: 'tokensPerSecondP50 per USD of price per million output tokens' }) tokensPerSecondPerDollar: string | null;
  @ApiProperty({ example: 360 }) probes: number;
  @ApiProperty({ example: '0.9972', nullable: true, type: String, description: 'Share of the exchange’s health probes answered ok' }) uptime: string | null;
  @ApiProperty({ example: 4 }) deliveriesClosed: number;
  @ApiProperty({ example: 0 }) deliveriesBreached: number;
  @ApiProperty({ example: '0.000000', nullable: true, type: String }) breachRate: string | null;
  @ApiProperty({ example: 0, description: 'Disputes resolved against the provider (not merely opened)' }) disputesUpheld: number;
  @ApiProperty({ example: '0.000000', nullable: true, type: String, description: 'Disputes upheld per verified request' }) disputeRate: string | null;
}

export class NodeScorecardView {
  @ApiProperty({ format: 'uuid' }) nodeId: string;
  @ApiProperty({ type: ScorecardView, description: 'Deliveries and breaches are the provider’s, so 0 here' }) scorecard: ScorecardView;
}

export class ModelClassScorecardView {
  @ApiProperty({ example: 'llama-3.1-70b-instruct' }) modelClass: string;
  @ApiProperty({ type: ScorecardView }) scorecard: ScorecardView;
  @ApiProperty({ type: NodeScorecardView, isArray: true }) nodes: NodeScorecardView[];
}

export class WindowView {
  @ApiProperty({ enum: WINDOW_NAMES }) window: WindowName;
  @ApiProperty({ example: '2026-12-03T17:05:00.000Z', description: 'Start of the oldest bucket counted' }) from: string;
  @ApiProperty({ example: '2026-12-04T17:05:00.000Z', description: 'End of the newest bucket counted (the current one)' }) to: string;
}

export class ProviderScorecardResponse {
  @ApiProperty({ example: 'Acme GPUs', description: 'The provider’s public name' }) provider: string;
  @ApiProperty({ type: WindowView }) window: WindowView;
  @ApiProperty({ type: ModelClassScorecardView, isArray: true }) modelClasses: ModelClassScorecardView[];
}

export class LeagueEntryView {
  @ApiProperty({ example: 1 }) rank: number;
  @ApiProperty({ example: 'Acme GPUs' }) provider: string;
  @ApiProperty({ type: ScorecardView }) scorecard: ScorecardView;
}

export class LeagueResponse {
  @ApiProperty({ example: 'llama-3.1-70b-instruct' }) modelClass: string;
  @ApiProperty({ type: WindowView }) window: WindowView;
  @ApiProperty({ type: ScorecardView, description: 'The whole market of the model class' }) market: ScorecardView;
  @ApiProperty({ type: LeagueEntryView, isArray: true, description: 'Best first, as a buyer would rank them (docs/scorecards.md)' }) items: LeagueEntryView[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}
