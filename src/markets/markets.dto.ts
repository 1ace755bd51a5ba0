import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { PageOf, PageQuery } from '../platform/http/pagination.js';
import {
  DELIVERY_PERIOD_PATTERN,
  FORWARD_QUANTITY_UNIT,
  INSTRUMENT_DEFAULTS,
  INSTRUMENT_KINDS,
  INSTRUMENT_STATUSES,
  type InstrumentKind,
  type InstrumentStatus,
  MODEL_CLASS_ID_PATTERN,
  MODEL_CLASS_ID_RULE,
} from './instrument-terms.js';
import { MAX_LOT_TOKENS } from './price.js';
import { IsTickSize } from './tick-size.validator.js';
import { SUPPORTED_TOKENIZERS, SUPPORTED_TOKENIZERS_DESCRIPTION } from './tokenizers.js';

const MAX_SLA_TOKENS_PER_SECOND = 100_000;
const MAX_SLA_TTFT_MS = 600_000;
const MAX_FEE_BPS = 1000;
const MAX_SPOT_WINDOW_SECONDS = 30 * 86_400;

export class CreateModelClassDto {
  @ApiProperty({ example: 'llama-3.1-70b-instruct', pattern: MODEL_CLASS_ID_PATTERN.source, description: MODEL_CLASS_ID_RULE })
  @IsString() @Matches(MODEL_CLASS_ID_PATTERN, { message: `id must be ${MODEL_CLASS_ID_RULE}` })
  id: string;

  @ApiProperty({
    example: 'tiktoken:o200k_base',
    enum: SUPPORTED_TOKENIZERS,
    description: `The tokenizer that counts this model's tokens, ${SUPPORTED_TOKENIZERS_DESCRIPTION}: the exchange re-counts audited text with it, so it must be one it has`,
  })
  @IsString() @IsIn(SUPPORTED_TOKENIZERS, { message: `tokenizer must be ${SUPPORTED_TOKENIZERS_DESCRIPTION}` })
  tokenizer: string;

  @ApiProperty({ example: 2500, minimum: 0, maximum: 10_000, description: 'A prompt token counts this many basis points of a completion token' })
  @IsInt() @Min(0) @Max(10_000)
  inputWeightBps: number;

  @ApiProperty({ example: 20, minimum: 1, maximum: MAX_SLA_TOKENS_PER_SECOND, description: 'SLA: the slowest a request may stream, tokens per second' })
  @IsInt() @Min(1) @Max(MAX_SLA_TOKENS_PER_SECOND)
  minTokensPerSecond: number;

  @ApiProperty({ example: 2000, minimum: 1, maximum: MAX_SLA_TTFT_MS, description: 'SLA: time to first token at p95, milliseconds' })
  @IsInt() @Min(1) @Max(MAX_SLA_TTFT_MS)
  maxTtftMs: number;
}

export class ModelClassView {
  @ApiProperty({ example: 'llama-3.1-70b-instruct' }) id: string;
  @ApiProperty({ example: 'llama3' }) tokenizer: string;
  @ApiProperty({ example: 2500 }) inputWeightBps: number;
  @ApiProperty({ example: 20 }) minTokensPerSecond: number;
  @ApiProperty({ example: 2000 }) maxTtftMs: number;
  @ApiProperty() createdAt: string;
}

export class ModelClassPage extends PageOf(ModelClassView) {}

export class CreateInstrumentDto {
  @ApiProperty({ example: 'llama-3.1-70b-instruct' })
  @IsString() @Matches(MODEL_CLASS_ID_PATTERN, { message: `modelClassId must be ${MODEL_CLASS_ID_RULE}` })
  modelClassId: string;

  @ApiProperty({ enum: INSTRUMENT_KINDS })
  @IsIn(INSTRUMENT_KINDS, { message: `kind must be one of: ${INSTRUMENT_KINDS.join(', ')}` })
  kind: InstrumentKind;

  @ApiPropertyOptional({ example: '2027-01', description: 'Forwards only: a month "YYYY-MM" or an ISO week "YYYY-Www", UTC' })
  @IsOptional() @IsString()
  @Matches(DELIVERY_PERIOD_PATTERN, { message: 'deliveryPeriod must be a month "YYYY-MM" or an ISO week "YYYY-Www", e.g. "2027-01" or "2027-W03"' })
  deliveryPeriod?: string;

  @ApiPropertyOptional({
    example: '0.001',
    default: INSTRUMENT_DEFAULTS.tickSize,
    description: 'USD per million tokens, a multiple of 0.000001; tickSize × lotSize / 10^6 must be a whole number of micro-USD',
  })
  @IsOptional() @IsTickSize()
  tickSize?: string;

  @ApiPropertyOptional({ example: 1000, default: INSTRUMENT_DEFAULTS.lotSize, minimum: 1, maximum: MAX_LOT_TOKENS, description: 'Tokens per lot' })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_LOT_TOKENS)
  lotSize?: number;

  @ApiPropertyOptional({ default: INSTRUMENT_DEFAULTS.makerFeeBps, minimum: 0, maximum: MAX_FEE_BPS })
  @IsOptional() @IsInt() @Min(0) @Max(MAX_FEE_BPS)
  makerFeeBps?: number;

  @ApiPropertyOptional({ default: INSTRUMENT_DEFAULTS.takerFeeBps, minimum: 0, maximum: MAX_FEE_BPS })
  @IsOptional() @IsInt() @Min(0) @Max(MAX_FEE_BPS)
  takerFeeBps?: number;

  @ApiPropertyOptional({ default: INSTRUMENT_DEFAULTS.collarBps, minimum: 0, maximum: 10_000, description: 'Market orders fill within ± this many bps of the last trade or index price' })
  @IsOptional() @IsInt() @Min(0) @Max(10_000)
  collarBps?: number;

  @ApiPropertyOptional({ default: INSTRUMENT_DEFAULTS.spotWindowSeconds, minimum: 60, maximum: MAX_SPOT_WINDOW_SECONDS, description: 'Spot only: seconds after a fill to consume it' })
  @IsOptional() @IsInt() @Min(60) @Max(MAX_SPOT_WINDOW_SECONDS)
  spotWindowSeconds?: number;

  @ApiPropertyOptional({
    default: INSTRUMENT_DEFAULTS.bondBps,
    minimum: 0,
    maximum: 10_000,
    description: "The provider's performance bond in bps of notional: spot, on each sell; forward, the short's bond on each delivery at expiry",
  })
  @IsOptional() @IsInt() @Min(0) @Max(10_000)
  bondBps?: number;

  @ApiPropertyOptional({ default: INSTRUMENT_DEFAULTS.initialMarginBps, minimum: 1, maximum: 10_000, description: 'Forwards only: initial margin, bps of notional' })
  @IsOptional() @IsInt() @Min(1) @Max(10_000)
  initialMarginBps?: number;

  @ApiPropertyOptional({
    default: INSTRUMENT_DEFAULTS.maintenanceMarginBps,
    minimum: 1,
    maximum: 10_000,
    description: 'Forwards only: maintenance margin, bps of notional; at most initialMarginBps',
  })
  @IsOptional() @IsInt() @Min(1) @Max(10_000)
  maintenanceMarginBps?: number;

  @ApiPropertyOptional({
    example: '2026-12-31T12:00:00Z',
    description: 'Forwards only: when trading stops; at or before the delivery start. Default: 00:00 UTC the day before delivery starts',
  })
  @IsOptional() @IsISO8601({ strict: true, strictSeparator: true }, { message: 'lastTradeAt must be an ISO 8601 timestamp' })
  @Matches(/T.*(Z|[+-]\d\d:\d\d)$/, { message: 'lastTradeAt must carry a time zone, e.g. "2026-12-31T12:00:00Z"' })
  lastTradeAt?: string;
}

export class ChangeInstrumentStatusDto {
  @ApiProperty({ example: 'provider outage under investigation', minLength: 1, maxLength: 500 })
  @IsString() @MinLength(1) @MaxLength(500) @Matches(/\S/, { message: 'reason must not be blank' })
  reason: string;
}

export class InstrumentQuery extends PageQuery {
  @ApiPropertyOptional({ enum: INSTRUMENT_KINDS })
  @IsOptional() @IsIn(INSTRUMENT_KINDS)
  kind?: InstrumentKind;

  @ApiPropertyOptional({ example: 'llama-3.1-70b-instruct', description: 'A model class id' })
  @IsOptional() @IsString() @Matches(MODEL_CLASS_ID_PATTERN, { message: `modelClass must be ${MODEL_CLASS_ID_RULE}` })
  modelClass?: string;

  @ApiPropertyOptional({ enum: INSTRUMENT_STATUSES })
  @IsOptional() @IsIn(INSTRUMENT_STATUSES)
  status?: InstrumentStatus;
}

export class InstrumentView {
  @ApiProperty({ example: 'LLAMA-3.1-70B-INSTRUCT-2027-01' }) symbol: string;
  @ApiProperty({ enum: INSTRUMENT_KINDS }) kind: InstrumentKind;
  @ApiProperty({ example: 'llama-3.1-70b-instruct' }) modelClassId: string;
  @ApiProperty({ example: '0.001', description: 'USD per million tokens; prices are multiples of it' }) tickSize: string;
  @ApiProperty({ example: 1000, description: 'Tokens; quantities are multiples of it (forwards: tokens over the whole period)' }) lotSize: number;
  @ApiProperty({ example: 0 }) makerFeeBps: number;
  @ApiProperty({ example: 10 }) takerFeeBps: number;
  @ApiProperty({ example: 1000 }) collarBps: number;
  @ApiProperty({ nullable: true, type: Number, example: 86_400, description: 'Spot only' }) spotWindowSeconds: number | null;
  @ApiProperty({ example: 1000, description: "The provider's bond in bps of notional: on a spot sell, or on a forward short's deliveries" }) bondBps: number;
  @ApiProperty({ nullable: true, type: String, example: '2027-01', description: 'Forwards only' }) deliveryPeriod: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'Forwards only: delivery starts (inclusive)' }) deliveryStart: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'Forwards only: delivery ends (exclusive)' }) deliveryEnd: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'Forwards only: orders are accepted before this instant' }) lastTradeAt: string | null;
  @ApiProperty({ enum: INSTRUMENT_STATUSES }) status: InstrumentStatus;
  @ApiProperty({ nullable: true, type: String }) haltReason: string | null;
  @ApiProperty({ nullable: true, type: String }) haltedAt: string | null;
  @ApiProperty() createdAt: string;
  @ApiPropertyOptional({ example: 31, description: 'Forwards only: UTC days of the delivery period, one delivery each' }) deliveryDays?: number;
  @ApiPropertyOptional({ example: 2000, description: 'Forwards only: initial margin, bps of notional' }) initialMarginBps?: number;
  @ApiPropertyOptional({ example: 1000, description: 'Forwards only: maintenance margin, bps of notional' }) maintenanceMarginBps?: number;
  @ApiPropertyOptional({ example: FORWARD_QUANTITY_UNIT, description: 'Forwards only: what a quantity of this instrument is' }) quantityUnit?: string;
}

export class InstrumentPage extends PageOf(InstrumentView) {}
