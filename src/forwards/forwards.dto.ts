import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional, IsString, IsUUID, Matches, MaxLength, MinLength, ValidateIf } from 'class-validator';
import { PageOf, PageQuery } from '../platform/http/pagination.js';
import { IsUsdAmount } from '../platform/http/usd-amount.validator.js';

const PRICE = /^\d{1,7}(\.\d{1,6})?$/;
const DAY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

export class PositionView {
  @ApiProperty({ example: 'LLAMA-3.1-70B-2027-01' }) instrument: string;
  @ApiProperty({ enum: ['long', 'short', 'flat'] }) side: 'long' | 'short' | 'flat';
  @ApiProperty({ description: 'Tokens over the whole delivery period (absolute)' }) quantity: number;
  @ApiProperty({ nullable: true, type: String, description: 'Average trade price of the open position, USD per million tokens (6 decimals)' })
  averagePrice: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'The last daily mark' }) markPrice: string | null;
  @ApiProperty({ description: 'Money on the margin account for this contract: its equity, USD' }) margin: string;
  @ApiProperty({ description: 'Variation margin received less paid since the position opened, USD' }) variationMargin: string;
  @ApiProperty({ description: 'Under a margin call: orders that grow the position are refused' }) marginCall: boolean;
  @ApiProperty() deliveryPeriod: string;
  @ApiProperty() lastTradeAt: string;
}

export class PositionList {
  @ApiProperty({ type: PositionView, isArray: true }) items: PositionView[];
}

export class MarginView {
  @ApiProperty() instrument: string;
  @ApiProperty({ description: 'Net position in tokens: long > 0, short < 0' }) position: number;
  @ApiProperty({ nullable: true, type: String }) markPrice: string | null;
  @ApiProperty({ description: 'Margin held plus variation received less paid, USD' }) equity: string;
  @ApiProperty({ description: 'Initial margin on max(long + open buys, short + open sells), USD' }) initialRequirement: string;
  @ApiProperty({ description: 'Maintenance margin on the position at the mark, USD' }) maintenanceRequirement: string;
  @ApiProperty({ description: 'Equity less initial requirement (negative: short of it), USD' }) excess: string;
  @ApiProperty() marginCall: boolean;
}

export class MarginList {
  @ApiProperty({ type: MarginView, isArray: true }) items: MarginView[];
}

export class MarkView {
  @ApiProperty() instrument: string;
  @ApiProperty({ example: '2027-01-14', description: 'The UTC day the mark closes (taken at 00:00 UTC after it)' }) day: string;
  @ApiProperty() price: string;
  @ApiProperty({ enum: ['trades', 'mid', 'previous', 'index', 'override'] }) source: string;
  @ApiProperty({ nullable: true, type: String }) previousPrice: string | null;
  @ApiProperty({ description: 'The final mark: the settlement price' }) final: boolean;
  @ApiProperty({ description: 'What the price was chosen from, and what the mark moved' }) inputs: Record<string, unknown>;
  @ApiProperty() createdAt: string;
}

export class MarkPage extends PageOf(MarkView) {}

export class TopUpDto {
  @ApiProperty({ example: '250.000000', description: 'USD moved from available cash to margin on this contract' })
  @IsUsdAmount()
  amount: string;
}

export class TopUpView {
  @ApiProperty() instrument: string;
  @ApiProperty({ description: 'Margin on this contract after the top-up, USD' }) margin: string;
  @ApiProperty({ description: 'The top-up cured a margin call' }) cured: boolean;
}

export class ExpiryView {
  @ApiProperty() instrument: string;
  @ApiProperty({ nullable: true, type: String, description: 'The final mark: the price every delivery is settled at (none when nothing was open)' })
  settlementPrice: string | null;
  @ApiProperty({ description: 'The day of the final mark' }) settlementDay: string;
  @ApiProperty({ description: 'Deliveries created: one per day of the period per allocation' }) deliveries: number;
  @ApiProperty({ description: 'The contract had expired before: nothing moved this time' }) repeated: boolean;
}

export class RunMarkDto {
  @ApiPropertyOptional({ example: '2027-01-14', description: 'The UTC day to mark; default: the last day that has ended' })
  @IsOptional() @IsString() @Matches(DAY, { message: 'day must be a date "YYYY-MM-DD"' })
  day?: string;

  @ApiPropertyOptional({ example: '2.150', description: 'An override price (USD per million tokens), with a reason' })
  @IsOptional() @IsString({ message: 'price must be a decimal string, e.g. "2.150"' }) @Matches(PRICE, { message: 'price must be a positive decimal string, e.g. "2.150"' })
  price?: string;

  @ApiPropertyOptional({ description: 'Why: required with an override price (why the rule was set aside); recorded in the audit trail' })
  @ValidateIf((o: RunMarkDto) => o.price !== undefined || o.reason !== undefined)
  @IsString({ message: 'reason is required with an override price' }) @MinLength(3) @MaxLength(500)
  reason?: string;
}

export const MARGIN_EVENTS = ['raised', 'cured', 'defaulted', 'cut'] as const;

export class MarginCallQuery extends PageQuery {
  @ApiPropertyOptional({ enum: ['open', 'all'], default: 'open', description: 'open: calls not yet cured; all: every margin event' })
  @IsOptional() @IsIn(['open', 'all'])
  status?: 'open' | 'all';

  @ApiPropertyOptional({ description: 'Only this contract' })
  @IsOptional() @IsString() @MaxLength(100)
  instrument?: string;

  @ApiPropertyOptional({ description: `With status=all: only these events, comma-separated (${MARGIN_EVENTS.join(', ')}); defaults are "defaulted,cut"`, example: 'defaulted,cut' })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.split(',').map((e) => e.trim()) : value))
  @IsIn(MARGIN_EVENTS, { each: true, message: `event must be a comma-separated list of: ${MARGIN_EVENTS.join(', ')}` })
  event?: Array<(typeof MARGIN_EVENTS)[number]>;
}

export class AdminPositionQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Only this contract' })
  @IsOptional() @IsString() @MaxLength(100)
  instrument?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only this participant' })
  @IsOptional() @IsUUID(undefined, { message: 'participant must be a UUID' })
  participant?: string;
}

/** A participant's position on a contract as admins see it: what `GET /v1/positions` and `GET /v1/margin` show its holder. */
export class AdminPositionView extends PositionView {
  @ApiProperty({ format: 'uuid' }) participantId: string;
  @ApiProperty() participantName: string;
  @ApiProperty({ description: 'Net position in tokens: long > 0, short < 0' }) position: number;
  @ApiProperty({ description: 'Margin held plus variation received less paid, USD' }) equity: string;
  @ApiProperty({ description: 'Initial margin on max(long + open buys, short + open sells), USD' }) initialRequirement: string;
  @ApiProperty({ description: 'Maintenance margin on the position at the mark, USD' }) maintenanceRequirement: string;
  @ApiProperty({ description: 'Equity less initial requirement (negative: short of it), USD' }) excess: string;
}

export class AdminPositionPage extends PageOf(AdminPositionView) {}

export class ExpireDto {
  @ApiPropertyOptional({ description: 'Why the contract is expired now, for the audit trail' })
  @IsOptional() @IsString() @MinLength(3) @MaxLength(500)
  reason?: string;
}

export class MarginEventView {
  @ApiProperty() id: string;
  @ApiProperty() instrument: string;
  @ApiProperty() participantId: string;
  @ApiProperty({ enum: ['raised', 'cured', 'defaulted', 'cut', 'open'] }) event: string;
  @ApiProperty({ nullable: true, type: String }) day: string | null;
  @ApiProperty() equity: string;
  @ApiProperty() requirement: string;
  @ApiProperty({ nullable: true, type: String, description: 'A default left unpaid, or a cut withheld from a winner, USD' }) amount: string | null;
  @ApiProperty() createdAt: string;
}

export class MarginEventPage extends PageOf(MarginEventView) {}
