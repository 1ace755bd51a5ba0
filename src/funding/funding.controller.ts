import { Body, Controller, Get, HttpCode, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { parseUsd } from '../common/money.js';
import { PageQuery } from '../platform/http/pagination.js';
import { uuidParam } from '../platform/http/params.js';
import { IdempotencyKeyHeader, type StoredResponse } from '../platform/idempotency/idempotency.service.js';
import { CurrentPrincipal, type Principal, Roles } from '../platform/http/auth.js';
import {
  CreateDepositDto,
  CreateWithdrawalDto,
  DepositPage,
  DepositView,
  InsuranceFundDepositDto,
  InsuranceFundView,
  ResolveWithdrawalDto,
  WithdrawalPage,
  WithdrawalQuery,
  WithdrawalView,
} from './funding.dto.js';
import { FundingService } from './funding.service.js';

const IDEMPOTENCY_HEADER = {
  name: 'Idempotency-Key',
  required: false,
  description: 'Same key and body: the first answer again. Same key, other body: 409.',
};

/** Validated DTO amounts always parse; this only converts. */
const micros = (amount: string) => {
  const parsed = parseUsd(amount);
  if (!parsed.ok) throw new Error('unvalidated amount');
  return parsed.micros;
};

function send<T>(reply: FastifyReply, response: StoredResponse<T>): T {
  void reply.status(response.statusCode);
  if (response.replayed) void reply.header('idempotent-replayed', 'true');
  return response.body;
}

@ApiTags('funding')
@ApiBearerAuth()
@Controller('v1')
export class FundingController {
  constructor(private readonly funding: FundingService) {}

  @Post('admin/deposits')
  @Roles('admin')
  @ApiOperation({ summary: 'Record cash received for a participant: it becomes available at once' })
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiCreatedResponse({ type: DepositView })
  async deposit(
    @CurrentPrincipal() actor: Principal,
    @Body() dto: CreateDepositDto,
    @IdempotencyKeyHeader() key: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<DepositView> {
    const response = await this.funding.deposit(
      actor,
      { participantId: dto.participantId, amount: micros(dto.amount), reference: dto.reference },
      key,
      { route: 'POST /v1/admin/deposits', body: dto },
    );
    return send(reply, response);
  }

  @Post('admin/insurance-fund/deposits')
  @Roles('admin')
  @ApiOperation({ summary: "Put money into the exchange's insurance fund, which covers forward defaults before winners are cut" })
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiCreatedResponse({ type: InsuranceFundView })
  async fundInsurance(
    @CurrentPrincipal() actor: Principal,
    @Body() dto: InsuranceFundDepositDto,
    @IdempotencyKeyHeader() key: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<InsuranceFundView> {
    return send(reply, await this.funding.fundInsurance(actor, micros(dto.amount), { reference: dto.reference, reason: dto.reason }, key, { route: 'POST /v1/admin/insurance-fund/deposits', body: dto }));
  }

  @Get('admin/insurance-fund')
  @Roles('admin')
  @ApiOkResponse({ type: InsuranceFundView })
  insuranceFund(): Promise<InsuranceFundView> {
    return this.funding.insuranceFund();
  }

  @Get('admin/deposits')
  @Roles('admin')
  @ApiOkResponse({ type: DepositPage })
  listAllDeposits(@Query() query: PageQuery): Promise<DepositPage> {
    return this.funding.listDeposits(query, null);
  }

  @Get('deposits')
  @ApiOperation({ summary: "The caller's deposits, newest first" })
  @ApiOkResponse({ type: DepositPage })
  listOwnDeposits(@CurrentPrincipal() actor: Principal, @Query() query: PageQuery): Promise<DepositPage> {
    return this.funding.listDeposits(query, actor.participantId);
  }

  @Post('withdrawals')
  @ApiOperation({ summary: 'Request a withdrawal from available cash; the amount is held until an admin pays or rejects it' })
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiCreatedResponse({ type: WithdrawalView })
  async withdraw(
    @CurrentPrincipal() actor: Principal,
    @Body() dto: CreateWithdrawalDto,
    @IdempotencyKeyHeader() key: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WithdrawalView> {
    return send(reply, await this.funding.requestWithdrawal(actor, micros(dto.amount), key, { route: 'POST /v1/withdrawals', body: dto }));
  }

  @Get('withdrawals')
  @ApiOkResponse({ type: WithdrawalPage })
  listOwnWithdrawals(@CurrentPrincipal() actor: Principal, @Query() query: WithdrawalQuery): Promise<WithdrawalPage> {
    return this.funding.listWithdrawals(query, actor.participantId);
  }

  @Get('withdrawals/:id')
  @ApiOkResponse({ type: WithdrawalView })
  getWithdrawal(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string): Promise<WithdrawalView> {
    return this.funding.getWithdrawal(actor, id);
  }

  @Get('admin/withdrawals')
  @Roles('admin')
  @ApiOkResponse({ type: WithdrawalPage })
  listAllWithdrawals(@Query() query: WithdrawalQuery): Promise<WithdrawalPage> {
    return this.funding.listWithdrawals(query, null);
  }

  @Post('admin/withdrawals/:id/paid')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: 'Mark a pending withdrawal paid: the held cash leaves the exchange' })
  @ApiOkResponse({ type: WithdrawalView })
  markPaid(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string, @Body() dto: ResolveWithdrawalDto): Promise<WithdrawalView> {
    return this.funding.resolveWithdrawal(actor, id, 'paid', dto.note);
  }

  @Post('admin/withdrawals/:id/rejected')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: 'Reject a pending withdrawal: the hold is voided and the cash is available again' })
  @ApiOkResponse({ type: WithdrawalView })
  reject(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string, @Body() dto: ResolveWithdrawalDto): Promise<WithdrawalView> {
    return this.funding.resolveWithdrawal(actor, id, 'rejected', dto.note);
  }
}
