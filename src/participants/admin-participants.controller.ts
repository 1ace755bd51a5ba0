import { Body, Controller, Get, HttpCode, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { formatBalances, LedgerService } from '../ledger/ledger.service.js';
import { CurrentPrincipal, type Principal, Roles } from '../platform/http/auth.js';
import { uuidParam } from '../platform/http/params.js';
import {
  AdminCreateApiKeyDto,
  AdminCreateParticipantDto,
  ApiKeyView,
  ChangeRolesDto,
  CreatedParticipantView,
  MeView,
  NewApiKeyView,
  ParticipantChangeView,
  ReasonDto,
} from './participants.dto.js';
import { ParticipantsService } from './participants.service.js';

/**
 * Admins managing participants, each action with a reason kept in the audit trail. The ops
 * console's participant pages call the same service methods.
 */
@ApiTags('participants')
@ApiBearerAuth()
@Roles('admin')
@Controller('v1/admin')
export class AdminParticipantsController {
  constructor(
    private readonly participants: ParticipantsService,
    private readonly ledger: LedgerService,
  ) {}

  @Post('participants')
  @ApiOperation({ summary: 'Create a participant; the answer carries its first API key, shown once' })
  @ApiCreatedResponse({ type: CreatedParticipantView })
  create(@CurrentPrincipal() actor: Principal, @Body() dto: AdminCreateParticipantDto): Promise<CreatedParticipantView> {
    return this.participants.create(actor, dto.name, dto.roles, dto.reason);
  }

  @Get('participants/:id')
  @ApiOperation({ summary: 'A participant with its balances, formatted as GET /v1/me formats them' })
  @ApiOkResponse({ type: MeView })
  async get(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string): Promise<MeView> {
    const participant = await this.participants.get(actor, id);
    return { ...participant, balances: formatBalances(await this.ledger.balancesOf(id)) };
  }

  @Put('participants/:id/roles')
  @ApiOperation({ summary: "Replace a participant's roles" })
  @ApiOkResponse({ type: ParticipantChangeView })
  roles(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string, @Body() dto: ChangeRolesDto): Promise<ParticipantChangeView> {
    return this.participants.update(actor, id, { roles: dto.roles }, dto.reason);
  }

  @Post('participants/:id/suspend')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Suspend a participant: its keys are refused, its nodes disabled, its open orders cancelled on every instrument',
    description: 'Suspending a suspended participant cancels any order still open (a retry if a book was busy).',
  })
  @ApiOkResponse({ type: ParticipantChangeView })
  suspend(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string, @Body() dto: ReasonDto): Promise<ParticipantChangeView> {
    return this.participants.update(actor, id, { status: 'suspended' }, dto.reason);
  }

  @Post('participants/:id/resume')
  @HttpCode(200)
  @ApiOperation({ summary: 'Reinstate a suspended participant: its status only; its nodes stay disabled and cancelled orders stay cancelled' })
  @ApiOkResponse({ type: ParticipantChangeView })
  resume(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string, @Body() dto: ReasonDto): Promise<ParticipantChangeView> {
    return this.participants.update(actor, id, { status: 'active' }, dto.reason);
  }

  @Post('participants/:id/api-keys')
  @ApiOperation({ summary: 'A new API key for a participant, shown once' })
  @ApiCreatedResponse({ type: NewApiKeyView })
  createKey(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string, @Body() dto: AdminCreateApiKeyDto): Promise<NewApiKeyView> {
    return this.participants.createKey(actor, id, dto.label, undefined, dto.reason);
  }

  @Post('api-keys/:id/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke an API key; it stops working at once' })
  @ApiOkResponse({ type: ApiKeyView })
  revokeKey(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string, @Body() dto: ReasonDto): Promise<ApiKeyView> {
    return this.participants.revokeKey(actor, id, dto.reason);
  }
}
