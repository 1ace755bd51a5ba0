import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { INSTRUMENT_DEFAULTS, MODEL_CLASS_ID_PATTERN, MODEL_CLASS_ID_RULE } from '../../markets/instrument-terms.js';
import { MAX_LOT_TOKENS } from '../../markets/price.js';
import { IsTickSize } from '../../markets/tick-size.validator.js';
import { PageOf } from '../../platform/http/pagination.js';
import { MAX_PERIODS_AHEAD, SERIES_CADENCES, type SeriesCadence } from './listing-plan.js';

const MAX_AHEAD = Math.max(...Object.values(MAX_PERIODS_AHEAD));

export class CreateForwardSeriesDto {
  @ApiProperty({ example: 'llama-3.1-70b-instruct' })
  @IsString() @Matches(MODEL_CLASS_ID_PATTERN, { message: `modelClassId must be ${MODEL_CLASS_ID_RULE}` })
  modelClassId: string;

  @ApiProperty({ enum: SERIES_CADENCES, description: 'Calendar months (`2027-01`) or ISO weeks (`2027-W03`), UTC' })
  @IsIn(SERIES_CADENCES, { message: `cadence must be one of: ${SERIES_CADENCES.join(', ')}` })
  cadence: SeriesCadence;

  @ApiProperty({ example: 3, minimum: 1, maximum: MAX_AHEAD, description: 'Contracts kept listed ahead: monthly 1 to 12, weekly 1 to 8' })
  @IsInt() @Min(1) @Max(MAX_AHEAD)
  periodsAhead: number;

  @ApiPropertyOptional({ default: INSTRUMENT_DEFAULTS.initialMarginBps, minimum: 1, maximum: 10_000, description: 'Initial margin, bps of notional' })
  @IsOptional() @IsInt() @Min(1) @Max(10_000)
  initialMarginBps?: number;

  @ApiPropertyOptional({ default: INSTRUMENT_DEFAULTS.maintenanceMarginBps, minimum: 1, maximum: 10_000, description: 'Maintenance margin, bps of notional; at most initialMarginBps' })
  @IsOptional() @IsInt() @Min(1) @Max(10_000)
  maintenanceMarginBps?: number;

  @ApiPropertyOptional({ default: INSTRUMENT_DEFAULTS.bondBps, minimum: 0, maximum: 10_000, description: "The short's performance bond on each delivery at expiry, bps of notional" })
  @IsOptional() @IsInt() @Min(0) @Max(10_000)
  bondBps?: number;

  @ApiPropertyOptional({ example: '0.001', default: INSTRUMENT_DEFAULTS.tickSize, description: 'USD per million tokens, as for instruments' })
  @IsOptional() @IsTickSize()
  tickSize?: string;

  @ApiPropertyOptional({ example: 1000, default: INSTRUMENT_DEFAULTS.lotSize, minimum: 1, maximum: MAX_LOT_TOKENS, description: 'Tokens per lot' })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_LOT_TOKENS)
  lotSize?: number;

  @ApiPropertyOptional({ default: INSTRUMENT_DEFAULTS.makerFeeBps, minimum: 0, maximum: 1000 })
  @IsOptional() @IsInt() @Min(0) @Max(1000)
  makerFeeBps?: number;

  @ApiPropertyOptional({ default: INSTRUMENT_DEFAULTS.takerFeeBps, minimum: 0, maximum: 1000 })
  @IsOptional() @IsInt() @Min(0) @Max(1000)
  takerFeeBps?: number;

  @ApiPropertyOptional({ default: INSTRUMENT_DEFAULTS.collarBps, minimum: 0, maximum: 10_000 })
  @IsOptional() @IsInt() @Min(0) @Max(10_000)
  collarBps?: number;

  @ApiPropertyOptional({ default: true, description: 'An inactive series lists nothing new' })
  @IsOptional() @IsBoolean()
  active?: boolean;
}

export class UpdateForwardSeriesDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_AHEAD, description: 'Monthly 1 to 12, weekly 1 to 8' })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_AHEAD)
  periodsAhead?: number;

  @ApiPropertyOptional({ description: 'Stop (false) or resume (true) listing; contracts already listed trade on' })
  @IsOptional() @IsBoolean()
  active?: boolean;
}

export class ForwardSeriesView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'llama-3.1-70b-instruct' }) modelClassId: string;
  @ApiProperty({ enum: SERIES_CADENCES }) cadence: SeriesCadence;
  @ApiProperty({ example: 3 }) periodsAhead: number;
  @ApiProperty({ example: 2000 }) initialMarginBps: number;
  @ApiProperty({ example: 1000 }) maintenanceMarginBps: number;
  @ApiProperty({ example: 1000 }) bondBps: number;
  @ApiProperty({ example: '0.001' }) tickSize: string;
  @ApiProperty({ example: 1000 }) lotSize: number;
  @ApiProperty({ example: 0 }) makerFeeBps: number;
  @ApiProperty({ example: 10 }) takerFeeBps: number;
  @ApiProperty({ example: 1000 }) collarBps: number;
  @ApiProperty() active: boolean;
  @ApiProperty({
    type: String,
    isArray: true,
    example: ['LLAMA-3.1-70B-INSTRUCT-2027-01'],
    description: 'The contracts the series keeps listed now (none while inactive); listed at once on a change, then every FORWARD_LISTING_INTERVAL_MS',
  })
  dueContracts: string[];
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

export class ForwardSeriesPage extends PageOf(ForwardSeriesView) {}
