import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsOptional, Matches } from 'class-validator';
import { AmendOrderDto, CLIENT_ORDER_ID, ORDER_ID, OrderView, PlaceOrderDto } from './orders.dto.js';

/** Order commands that arrive several to a request or a connection: a batch's, the stream's. */

/** Commands one batch may carry at most. */
export const MAX_BATCH_COMMANDS = 100;

export class BatchPlaceCommand extends PlaceOrderDto {
  @ApiProperty({ enum: ['place'] }) @IsIn(['place'])
  op: 'place';
}

/** A cancel names the order by its id or by its clientOrderId, one of the two. */
export class OrderRefDto {
  @ApiPropertyOptional({ example: '1042' })
  @IsOptional() @Matches(ORDER_ID, { message: 'orderId must be an order id, e.g. "1042"' })
  orderId?: string;

  @ApiPropertyOptional({ example: 'bot-7f3a-000123' })
  @IsOptional() @Matches(CLIENT_ORDER_ID, { message: 'clientOrderId must be 1 to 64 letters, digits, _ . : or -' })
  clientOrderId?: string;
}

/** An amend sent over the stream, where the order is not in the path. */
export class AmendByIdDto extends AmendOrderDto {
  @ApiProperty({ example: '1042' })
  @Matches(ORDER_ID, { message: 'orderId must be an order id, e.g. "1042"' })
  orderId: string;
}

export class BatchCancelCommand extends OrderRefDto {
  @ApiProperty({ enum: ['cancel'] }) @IsIn(['cancel'])
  op: 'cancel';
}

@ApiExtraModels(BatchPlaceCommand, BatchCancelCommand)
export class OrderBatchDto {
  /** Each command is judged on its own (validateItem): a null in one refuses that one, not the batch. */
  static readonly validatesItemByItem = true;

  @ApiProperty({
    description: `1 to ${MAX_BATCH_COMMANDS} commands, run in the order given; each is answered on its own`,
    type: 'array',
    items: { oneOf: [{ $ref: getSchemaPath(BatchPlaceCommand) }, { $ref: getSchemaPath(BatchCancelCommand) }] },
  })
  @IsArray({ message: 'commands must be an array of place and cancel commands' })
  @ArrayMinSize(1, { message: 'commands must hold at least one command' })
  @ArrayMaxSize(MAX_BATCH_COMMANDS, { message: `commands must hold at most ${MAX_BATCH_COMMANDS} commands` })
  commands: unknown[];
}

/** One command's answer: what it would have answered alone, as status and body. */
export class BatchResultView {
  @ApiProperty({ example: 201, description: '201 placed; 200 a cancel, or a repeated clientOrderId (the first order); 4xx/5xx refused, with the error' })
  statusCode: number;
  @ApiPropertyOptional({ type: OrderView }) order?: OrderView;
  @ApiPropertyOptional({ example: 'Unprocessable Entity' }) error?: string;
  @ApiPropertyOptional({ example: 'INSUFFICIENT_FUNDS' }) code?: string;
  @ApiPropertyOptional({ example: 'not enough available cash for the order and its fees' }) message?: string;
  @ApiPropertyOptional({ type: Object, description: 'fields: the fields at fault, as commands[i].field' }) details?: Record<string, unknown>;
  @ApiPropertyOptional({ description: 'On a 500 only: quote it to support' }) correlationId?: string;
}

export class OrderBatchView {
  @ApiProperty({ type: BatchResultView, isArray: true, description: "One per command, in the commands' order" })
  results: BatchResultView[];
}
