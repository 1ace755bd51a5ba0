import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentPrincipal, type Principal, Roles } from '../platform/http/auth.js';
import { uuidParam } from '../platform/http/params.js';
import { BodyLimit } from '../platform/http/route-limits.js';
import { IdempotencyKeyHeader } from '../platform/idempotency/idempotency.service.js';
import { ParticipantsService } from '../participants/participants.service.js';
import { invalid } from '../common/domain-error.js';
import { AdminCancelDto, AdminMassCancelDto, AmendOrderDto, CLIENT_ORDER_ID, CancelAllAfterDto, CancelAllAfterView, FillPage, MassCancelQuery, MassCancelView, OrderPage, OrderQuery, OrderView, PlaceOrderDto } from './orders.dto.js';
import { DeadManSwitches } from './dead-man-switches.js';
import { OrdersService } from './orders.service.js';
import { OrderEntry } from './order-entry.js';
import { OrderBatches } from './order-batches.js';
import { MAX_BATCH_COMMANDS, OrderBatchDto, OrderBatchView } from './order-commands.dto.js';

@ApiTags('orders')
@ApiBearerAuth()
@Roles('provider', 'buyer')
@Controller('v1')
export class OrdersController {
  constructor(
    private readonly orders: OrdersService,
    private readonly entry: OrderEntry,
    private readonly batches: OrderBatches,
    private readonly deadManSwitches: DeadManSwitches,
    private readonly participants: ParticipantsService,
  ) {}

  @Post('orders')
  @ApiOperation({
    summary: 'Place an order; answered once it and its fills are committed',
    description:
      'A repeated clientOrderId returns the first order (200) instead of placing another (201). ' +
      'The same Idempotency-Key and body return the first answer (same status and body, header idempotent-replayed: true); the same key with another body is a 409.',
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Same key and body: the first answer again. Same key, other body: 409.' })
  @ApiCreatedResponse({ type: OrderView })
  async place(
    @CurrentPrincipal() actor: Principal,
    @Body() dto: PlaceOrderDto,
    @IdempotencyKeyHeader() key: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<OrderView> {
    const { statusCode, order, replayed } = await this.entry.place(actor, dto, key);
    void reply.status(statusCode);
    if (replayed) void reply.header('idempotent-replayed', 'true');
    return order;
  }

  @Post('orders/batch')
  @HttpCode(200)
  @BodyLimit(128 * 1024)
  @ApiOperation({
    summary: `Place and cancel up to ${MAX_BATCH_COMMANDS} orders in one request; each command is answered on its own once committed`,
    description:
      'Never all or nothing: each result is what the command would have answered alone (201 placed, 200 cancelled or a repeated clientOrderId, 4xx/5xx refused). ' +
      'Commands run in the order given. Each command costs one request of the rate limit. ' +
      'With an Idempotency-Key the same key and body return the first answer; the same key while the first runs is a 409 to retry.',
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Same key and body: the first answer again. Same key, other body: 409.' })
  @ApiOkResponse({ type: OrderBatchView })
  async batch(
    @CurrentPrincipal() actor: Principal,
    @Body() dto: OrderBatchDto,
    @IdempotencyKeyHeader() key: string | undefined,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<OrderBatchView> {
    const { body, replayed } = await this.batches.run(actor, dto, key, request.id);
    if (replayed) void reply.header('idempotent-replayed', 'true');
    return body;
  }

  @Get('orders')
  @ApiOkResponse({ type: OrderPage })
  list(@CurrentPrincipal() actor: Principal, @Query() query: OrderQuery): Promise<OrderPage> {
    return this.orders.list(actor, query);
  }

  @Get('admin/participants/:id/orders')
  @Roles('admin')
  @ApiOperation({ summary: "A participant's orders, newest first, as its own GET /v1/orders shows them (admin)" })
  @ApiOkResponse({ type: OrderPage })
  async ordersOf(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string, @Query() query: OrderQuery): Promise<OrderPage> {
    await this.participants.get(actor, id); // 404 for an unknown participant
    return this.orders.listOf(id, query);
  }

  @Post('admin/participants/:id/orders/cancel')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: "Cancel a participant's open orders (all, or one instrument's), through each book; audited with the reason (admin)" })
  @ApiOkResponse({ type: MassCancelView })
  async adminCancelAll(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string, @Body() dto: AdminMassCancelDto): Promise<MassCancelView> {
    await this.participants.get(actor, id); // 404 for an unknown participant
    return this.orders.cancelAllOf(id, dto.instrument, { actorId: actor.participantId, reason: dto.reason });
  }

  @Post('admin/orders/:id/cancel')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: "Cancel any participant's open order, through its book; audited with the reason (admin)" })
  @ApiOkResponse({ type: OrderView })
  adminCancel(@CurrentPrincipal() actor: Principal, @Param('id') id: string, @Body() dto: AdminCancelDto): Promise<OrderView> {
    return this.orders.adminCancel(actor, id, dto.reason);
  }

  @Get('orders/by-client-id/:clientOrderId')
  @ApiOperation({ summary: "The caller's order with this clientOrderId, with its fills: how a client that lost an answer learns what happened" })
  @ApiOkResponse({ type: OrderView })
  byClientOrderId(@CurrentPrincipal() actor: Principal, @Param('clientOrderId') clientOrderId: string): Promise<OrderView> {
    if (!CLIENT_ORDER_ID.test(clientOrderId)) throw invalid('VALIDATION_FAILED', 'clientOrderId must be 1 to 64 letters, digits, _ . : or -', { fields: ['clientOrderId'] });
    return this.orders.byClientOrderId(actor, clientOrderId);
  }

  @Get('orders/:id')
  @ApiOkResponse({ type: OrderView })
  get(@CurrentPrincipal() actor: Principal, @Param('id') id: string): Promise<OrderView> {
    return this.orders.get(actor, id);
  }

  @Patch('orders/:id')
  @ApiOperation({ summary: 'Amend price or quantity: quantity down keeps time priority, a new price or more quantity loses it' })
  @ApiOkResponse({ type: OrderView })
  async amend(@CurrentPrincipal() actor: Principal, @Param('id') id: string, @Body() dto: AmendOrderDto): Promise<OrderView> {
    return (await this.entry.amend(actor, id, dto)).order;
  }

  @Delete('orders/:id')
  @ApiOkResponse({ type: OrderView })
  async cancel(@CurrentPrincipal() actor: Principal, @Param('id') id: string): Promise<OrderView> {
    return (await this.entry.cancel(actor, { orderId: id })).order;
  }

  @Delete('orders')
  @HttpCode(200)
  @ApiOperation({ summary: "Cancel all the caller's open orders, or those of one instrument" })
  @ApiOkResponse({ type: MassCancelView })
  cancelAll(@CurrentPrincipal() actor: Principal, @Query() query: MassCancelQuery): Promise<MassCancelView> {
    return this.orders.cancelAll(actor, query.instrument);
  }

  @Post('orders/cancel-all-after')
  @HttpCode(200)
  @ApiOperation({ summary: 'Dead-man switch: cancel all your open orders unless called again within `timeout` seconds (0 disarms)' })
  @ApiOkResponse({ type: CancelAllAfterView })
  cancelAllAfter(@CurrentPrincipal() actor: Principal, @Body() dto: CancelAllAfterDto): Promise<CancelAllAfterView> {
    return this.deadManSwitches.arm(actor, dto.timeout);
  }

  @Get('fills')
  @ApiOkResponse({ type: FillPage })
  fills(@CurrentPrincipal() actor: Principal, @Query() query: OrderQuery): Promise<FillPage> {
    return this.orders.fills(actor, query);
  }
}
