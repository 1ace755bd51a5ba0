import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsInt, IsISO8601, IsOptional, IsString, Matches, Max, Min, ValidateIf } from 'class-validator';
import { PageOf, PageQuery } from '../platform/http/pagination.js';
import { ORDER_STATUSES } from './order.entity.js';
import { IsReason } from '../participants/participants.dto.js';

const SIDES = ['buy', 'sell'] as const;
const TYPES = ['limit', 'market'] as const;
const TIME_IN_FORCE = ['GTC', 'IOC', 'FOK', 'GTD'] as const;
const STP_MODES = ['cancel_taker', 'cancel_maker', 'cancel_both'] as const;
const PRICE = /^\d{1,7}(\.\d{1,6})?$/;
export const CLIENT_ORDER_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
/** An order id as the API shows it: a positive bigint, as a string. */
export const ORDER_ID = /^[1-9]\d{0,17}$/;

export class PlaceOrderDto {
  @ApiProperty({ example: 'LLAMA-3.1-70B-INSTRUCT-SPOT' })
  @IsString() @Matches(/^[A-Z0-9][A-Z0-9.-]{1,79}$/, { message: 'instrument must be an instrument symbol' })
  instrument: string;

  @ApiProperty({ enum: SIDES }) @IsIn(SIDES)
  side: 'buy' | 'sell';

  @ApiProperty({ enum: TYPES }) @IsIn(TYPES)
  type: 'limit' | 'market';

  @ApiProperty({ example: 2_000_000, description: 'Tokens: a positive multiple of the instrument lot size' })
  @IsInt({ message: 'quantity must be a whole number of tokens' }) @Min(1) @Max(1_000_000_000_000)
  quantity: number;

  @ApiPropertyOptional({ example: '0.450', description: 'USD per million tokens, on the tick grid; required for limit orders, absent for market orders' })
  @ValidateIf((o: PlaceOrderDto) => o.type === 'limit' || o.price !== undefined)
  @IsString({ message: 'price must be a decimal string, e.g. "0.450"' }) @Matches(PRICE, { message: 'price must be a positive decimal string, e.g. "0.450"' })
  price?: string;

  @ApiPropertyOptional({ enum: TIME_IN_FORCE, description: 'Default GTC for limit, IOC for market orders' })
  @IsOptional() @IsIn(TIME_IN_FORCE)
  timeInForce?: (typeof TIME_IN_FORCE)[number];

  @ApiPropertyOptional({ example: '2026-11-27T12:00:00Z', description: 'Required with GTD, in the future' })
  @ValidateIf((o: PlaceOrderDto) => o.timeInForce === 'GTD' || o.expiresAt !== undefined)
  @IsISO8601({ strict: true }, { message: 'expiresAt must be an ISO 8601 timestamp' })
  expiresAt?: string;

  @ApiPropertyOptional({ default: false, description: 'Rejected rather than taking liquidity' })
  @IsOptional() @IsBoolean()
  postOnly?: boolean;

  @ApiPropertyOptional({ example: 'bot-7f3a-000123', description: 'Unique per participant: sending it again returns the first order' })
  @IsOptional() @Matches(CLIENT_ORDER_ID, { message: 'clientOrderId must be 1 to 64 letters, digits, _ . : or -' })
  clientOrderId?: string;

  @ApiPropertyOptional({ enum: STP_MODES, default: 'cancel_taker' })
  @IsOptional() @IsIn(STP_MODES)
  selfTradePrevention?: (typeof STP_MODES)[number];
}

export class AmendOrderDto {
  @ApiPropertyOptional({ example: '0.440', description: 'New price: the order loses its time priority' })
  @IsOptional() @IsString() @Matches(PRICE, { message: 'price must be a positive decimal string, e.g. "0.450"' })
  price?: string;

  @ApiPropertyOptional({ example: 1_000_000, description: 'New total quantity in tokens, filled part included: down keeps priority, up loses it' })
  @IsOptional() @IsInt({ message: 'quantity must be a whole number of tokens' }) @Min(1) @Max(1_000_000_000_000)
  quantity?: number;
}

export class OrderQuery extends PageQuery {
  @ApiPropertyOptional() @IsOptional() @IsString() @Matches(/^[A-Z0-9][A-Z0-9.-]{1,79}$/, { message: 'instrument must be an instrument symbol' })
  instrument?: string;

  @ApiPropertyOptional({ enum: ORDER_STATUSES }) @IsOptional() @IsIn(ORDER_STATUSES)
  status?: (typeof ORDER_STATUSES)[number];

  @ApiPropertyOptional({ example: 'bot-7f3a-000123', description: 'Only the order with this clientOrderId (the list then has one item or none)' })
  @IsOptional() @Matches(CLIENT_ORDER_ID, { message: 'clientOrderId must be 1 to 64 letters, digits, _ . : or -' })
  clientOrderId?: string;
}

export class MassCancelQuery {
  @ApiPropertyOptional({ description: 'Only this instrument; all instruments when absent' })
  @IsOptional() @IsString() @Matches(/^[A-Z0-9][A-Z0-9.-]{1,79}$/, { message: 'instrument must be an instrument symbol' })
  instrument?: string;
}

export class AdminCancelDto {
  @ApiProperty({ example: 'runaway bot, ticket 4411', maxLength: 500, description: 'Why: kept in the audit trail' })
  @IsReason()
  reason: string;
}

export class AdminMassCancelDto extends AdminCancelDto {
  @ApiPropertyOptional({ description: 'Only this instrument; all instruments when absent' })
  @IsOptional() @IsString() @Matches(/^[A-Z0-9][A-Z0-9.-]{1,79}$/, { message: 'instrument must be an instrument symbol' })
  instrument?: string;
}

export class CancelAllAfterDto {
  @ApiProperty({ example: 60, description: 'Seconds until all your open orders are cancelled unless you call again; 0 disarms' })
  @IsInt({ message: 'timeout must be a whole number of seconds' }) @Min(0) @Max(86_400)
  timeout: number;
}

export class CancelAllAfterView {
  @ApiProperty() currentTime: string;
  @ApiProperty({ nullable: true, type: String, description: 'When the orders will be cancelled; null when disarmed' }) triggerTime: string | null;
}

export class FillView {
  @ApiProperty() id: string;
  @ApiProperty() instrument: string;
  @ApiProperty() orderId: string;
  @ApiProperty({ enum: SIDES }) side: string;
  @ApiProperty({ enum: ['maker', 'taker'] }) liquidity: string;
  @ApiProperty({ example: '0.450' }) price: string;
  @ApiProperty({ example: 1_000_000 }) quantity: number;
  @ApiProperty({ example: '0.450000' }) notional: string;
  @ApiProperty({ example: '0.000450', description: "This side's fee (a seller's is charged when it is paid for delivery)" }) fee: string;
  @ApiProperty() createdAt: string;
}

export class OrderView {
  @ApiProperty({ example: '1042' }) id: string;
  @ApiProperty({ nullable: true, type: String }) clientOrderId: string | null;
  @ApiProperty() instrument: string;
  @ApiProperty({ enum: SIDES }) side: string;
  @ApiProperty({ enum: TYPES }) type: string;
  @ApiProperty({ enum: TIME_IN_FORCE }) timeInForce: string;
  @ApiProperty({ example: '0.450', description: "Limit price (a market order's collar limit)" }) price: string;
  @ApiProperty({ example: 2_000_000 }) quantity: number;
  @ApiProperty() filledQuantity: number;
  @ApiProperty() remainingQuantity: number;
  @ApiProperty({ enum: ORDER_STATUSES }) status: string;
  @ApiProperty({ nullable: true, type: String, description: 'user, mass_cancel, ioc, stp, market_unfilled, collar, expired' }) closeReason: string | null;
  @ApiProperty() postOnly: boolean;
  @ApiProperty({ enum: STP_MODES }) selfTradePrevention: string;
  @ApiProperty({ nullable: true, type: String }) expiresAt: string | null;
  @ApiProperty({ example: '0.900900', description: "Cash the order holds now: a buy's hold, a sell's performance bond" }) hold: string;
  @ApiProperty({ example: '0.000900' }) fees: string;
  @ApiProperty() createdAt: string;
  @ApiProperty({ type: FillView, isArray: true, description: 'The fills this request made (on reads: all fills of the order)' }) fills: FillView[];
}

export class MassCancelView {
  @ApiProperty({ type: OrderView, isArray: true }) cancelled: OrderView[];
}

export class OrderPage extends PageOf(OrderView) {}
export class FillPage extends PageOf(FillView) {}
