import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { parseUsd } from '../common/money.js';
import { invalid } from '../common/domain-error.js';
import { CurrentPrincipal, type Principal, Public, Roles } from '../platform/http/auth.js';
import { PageQuery } from '../platform/http/pagination.js';
import { IdempotencyKeyHeader } from '../platform/idempotency/idempotency.service.js';
import { AdminPositionPage, AdminPositionQuery, ExpireDto, ExpiryView, MarginCallQuery, MarginEventPage, MarginList, MarkPage, MarkView, PositionList, RunMarkDto, TopUpDto, TopUpView } from './forwards.dto.js';
import { ForwardOversight } from './forward-oversight.js';
import { ForwardsService } from './forwards.service.js';

@ApiTags('forwards')
@ApiBearerAuth()
@Controller('v1')
export class ForwardsController {
  constructor(
    private readonly forwards: ForwardsService,
    private readonly oversight: ForwardOversight,
  ) {}

  @Get('positions')
  @ApiOperation({ summary: "The caller's forward positions: net per contract, with average price, margin and variation margin" })
  @ApiOkResponse({ type: PositionList })
  async positions(@CurrentPrincipal() actor: Principal): Promise<PositionList> {
    return { items: await this.forwards.positions(actor) };
  }

  @Get('margin')
  @ApiOperation({ summary: "The caller's margin per forward contract: position, mark, equity, requirements and excess" })
  @ApiOkResponse({ type: MarginList })
  async margin(@CurrentPrincipal() actor: Principal): Promise<MarginList> {
    return { items: await this.forwards.margin(actor) };
  }

  @Post('margin/:symbol/top-up')
  @HttpCode(200)
  @Roles('provider', 'buyer')
  @ApiOperation({ summary: 'Move available cash to margin on a contract: how a margin call is cured by a deposit' })
  @ApiHeader({ name: 'Idempotency-Key', required: true, description: 'The same key moves the money once' })
  @ApiOkResponse({ type: TopUpView })
  topUp(@CurrentPrincipal() actor: Principal, @Param('symbol') symbol: string, @Body() dto: TopUpDto, @IdempotencyKeyHeader() key: string | undefined): Promise<TopUpView> {
    if (key === undefined) throw invalid('VALIDATION_FAILED', 'the Idempotency-Key header is required: it names the top-up so it moves money once', { fields: ['Idempotency-Key'] });
    const amount = parseUsd(dto.amount);
    if (!amount.ok || amount.micros === 0n) throw invalid('VALIDATION_FAILED', 'amount must be above zero', { fields: ['amount'] });
    return this.forwards.topUp(actor, symbol, amount.micros, key);
  }

  @Public()
  @Get('forwards/:symbol/marks')
  @ApiOperation({ summary: "A forward's daily marks, newest first, each with the inputs its price was chosen from" })
  @ApiOkResponse({ type: MarkPage })
  marks(@Param('symbol') symbol: string, @Query() query: PageQuery): Promise<MarkPage> {
    return this.forwards.marks(symbol, query);
  }

  @Post('admin/forwards/:symbol/marks')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: "Run a contract's daily mark now (a day that has ended), or override its price with a reason; once per day" })
  @ApiOkResponse({ type: MarkView })
  runMark(@CurrentPrincipal() actor: Principal, @Param('symbol') symbol: string, @Body() dto: RunMarkDto): Promise<MarkView> {
    return this.forwards.runMark(actor, symbol, dto);
  }

  @Post('admin/forwards/:symbol/expire')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: 'Expire a contract past its last trade now: final mark, allocation, daily deliveries (once)' })
  @ApiOkResponse({ type: ExpiryView })
  expire(@CurrentPrincipal() actor: Principal, @Param('symbol') symbol: string, @Body() dto: ExpireDto): Promise<ExpiryView> {
    return this.forwards.expire(actor, symbol, dto.reason);
  }

  @Get('admin/positions')
  @Roles('admin')
  @ApiOperation({ summary: "Every participant's forward positions, by contract then participant, as each holder's /v1/positions and /v1/margin show them" })
  @ApiOkResponse({ type: AdminPositionPage })
  allPositions(@Query() query: AdminPositionQuery): Promise<AdminPositionPage> {
    return this.oversight.positions(query);
  }

  @Get('admin/margin-calls')
  @Roles('admin')
  @ApiOperation({ summary: 'Margin calls not yet cured (status=open), or every margin event: calls, cures, defaults and cuts (status=all, filtered by event)' })
  @ApiOkResponse({ type: MarginEventPage })
  marginCalls(@Query() query: MarginCallQuery): Promise<MarginEventPage> {
    return this.forwards.marginEvents(query);
  }
}
