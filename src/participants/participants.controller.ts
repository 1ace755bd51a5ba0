import { Body, Controller, Delete, Get, HttpCode, Patch, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { PageQuery } from '../platform/http/pagination.js';
import { uuidParam } from '../platform/http/params.js';
import { formatBalances, LedgerService } from '../ledger/ledger.service.js';
import {
  ApiKeyPage,
  ApiKeyView,
  CreateApiKeyDto,
  CreatedParticipantView,
  CreateParticipantDto,
  MeView,
  RateLimitView,
  NewApiKeyView,
  ParticipantPage,
  ParticipantQuery,
  ParticipantView,
  UpdateParticipantDto,
} from './participants.dto.js';
import { ParticipantsService } from './participants.service.js';
import { CurrentPrincipal, type Principal, Roles } from '../platform/http/auth.js';
import type { BudgetedRequest } from '../platform/http/rate-limit.guard.js';

@ApiTags('participants')
@ApiBearerAuth()
@Controller('v1')
export class ParticipantsController {
  constructor(
    private readonly participants: ParticipantsService,
    private readonly ledger: LedgerService,
  ) {}

  @Post('participants')
  @Roles('admin')
  @ApiOperation({ summary: 'Create a participant; the answer carries its first API key, shown once' })
  @ApiCreatedResponse({ type: CreatedParticipantView })
  create(@CurrentPrincipal() actor: Principal, @Body() dto: CreateParticipantDto): Promise<CreatedParticipantView> {
    return this.participants.create(actor, dto.name, dto.roles);
  }

  @Get('participants')
  @Roles('admin')
  @ApiOkResponse({ type: ParticipantPage })
  list(@Query() query: ParticipantQuery): Promise<ParticipantPage> {
    return this.participants.list(query);
  }

  @Get('participants/:id')
  @ApiOperation({ summary: 'A participant: admins see anyone, others only themselves' })
  @ApiOkResponse({ type: ParticipantView })
  get(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string): Promise<ParticipantView> {
    return this.participants.get(actor, id);
  }

  @Patch('participants/:id')
  @Roles('admin')
  @ApiOperation({
    summary: 'Rename, change roles, suspend or reinstate a participant, saying why',
    description: 'Suspending disables its nodes and cancels its open orders on every instrument; reinstating restores the status only.',
  })
  @ApiOkResponse({ type: ParticipantView })
  async update(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string, @Body() dto: UpdateParticipantDto): Promise<ParticipantView> {
    const { reason, ...changes } = dto;
    return (await this.participants.update(actor, id, changes, reason)).participant;
  }

  @Post('participants/:id/api-keys')
  @ApiOperation({ summary: 'A new API key (admin or self), shown once; `replaces` revokes an old key in the same step' })
  @ApiCreatedResponse({ type: NewApiKeyView })
  createKey(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string, @Body() dto: CreateApiKeyDto): Promise<NewApiKeyView> {
    return this.participants.createKey(actor, id, dto.label, dto.replaces);
  }

  @Get('participants/:id/api-keys')
  @ApiOkResponse({ type: ApiKeyPage })
  listKeys(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string, @Query() query: PageQuery): Promise<ApiKeyPage> {
    return this.participants.listKeys(actor, id, query);
  }

  @Delete('api-keys/:id')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke an API key (admin or its owner); it stops working at once' })
  @ApiOkResponse({ type: ApiKeyView })
  revokeKey(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string): Promise<ApiKeyView> {
    return this.participants.revokeKey(actor, id);
  }

  @Get('me')
  @ApiOperation({ summary: 'The caller, its roles and balances' })
  @ApiOkResponse({ type: MeView })
  async me(@CurrentPrincipal() actor: Principal): Promise<MeView> {
    const [participant, balances] = await Promise.all([
      this.participants.get(actor, actor.participantId),
      this.ledger.balancesOf(actor.participantId),
    ]);
    return { ...participant, balances: formatBalances(balances) };
  }

  /** Reads nothing from PostgreSQL: the key is verified from memory, the budget kept by this process. */
  @Get('me/rate-limit')
  @ApiOperation({ summary: 'The caller’s request budget for this second, after this request (the x-ratelimit-* headers, as a body)' })
  @ApiOkResponse({ type: RateLimitView })
  rateLimit(@Req() request: BudgetedRequest): RateLimitView {
    const budget = request.rateBudget;
    return budget ? { limit: budget.limit, remaining: budget.remaining, resetsAt: new Date(budget.resetsAt).toISOString() } : { limit: 0, remaining: null, resetsAt: null };
  }
}
