import { Body, Controller, Get, Param, Post, Query, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsOptional, isUUID, IsString, MaxLength } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { notFound } from '../../common/domain-error.js';
import { IsReason, IsRoles, ParticipantQuery } from '../../participants/participants.dto.js';
import { PARTICIPANT_STATUSES, type Role, ROLES } from '../../participants/participant.entity.js';
import { ParticipantsService } from '../../participants/participants.service.js';
import { type Principal, Public } from '../../platform/http/auth.js';
import { OpsAdmin, OpsExceptionFilter, OpsForm, redirectAfterPost, nextPageHref, renderPage } from '../ops-page.js';
import { ParticipantPageService } from './participant-page.service.js';

/** A checkbox group posts one value as a string and several as a list. */
const asList = ({ value }: { value: unknown }) => (typeof value === 'string' ? [value] : value);
const blankAsAbsent = ({ value }: { value: unknown }) => (typeof value === 'string' && value.trim() === '' ? undefined : value);

export class ReasonForm extends OpsForm {
  @IsReason()
  reason: string;
}

export class RolesForm extends ReasonForm {
  @Transform(asList) @IsRoles()
  roles: Role[];
}

export class CreateParticipantForm extends RolesForm {
  @Transform(blankAsAbsent) @IsString({ message: 'name is required' }) @MaxLength(200, { message: 'name must be at most 200 characters' })
  name: string;
}

export class NewKeyForm extends ReasonForm {
  @Transform(blankAsAbsent) @IsOptional() @IsString() @MaxLength(100, { message: 'label must be at most 100 characters' })
  label?: string;
}

/** The list's filters as a GET form sends them: an empty select or box means no filter. */
export class ParticipantsPageQuery extends ParticipantQuery {}
for (const field of ['role', 'status', 'name', 'cursor'] as const) Transform(blankAsAbsent)(ParticipantsPageQuery.prototype, field);

export class ParticipantPageQuery {
  @IsOptional() @IsString() @MaxLength(512)
  orders?: string;

  @IsOptional() @IsString() @MaxLength(512)
  keys?: string;

  @IsOptional() @IsString() @MaxLength(20)
  done?: string;

  @Transform(({ value }) => (typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : undefined)) @IsOptional()
  cancelled?: number;

  @Transform(({ value }) => (typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : undefined)) @IsOptional()
  disabled?: number;
}

/** A participant id in a console URL: anything that is not one names no participant. */
const participantId = (id: string): string => {
  if (!isUUID(id)) throw notFound('PARTICIPANT_NOT_FOUND', `no such participant: ${id.slice(0, 64)}`);
  return id;
};
const keyId = (id: string): string => {
  if (!isUUID(id)) throw notFound('API_KEY_NOT_FOUND', 'no such API key');
  return id;
};

/** What the page says after a form was posted (a fixed sentence per action: nothing from the URL is echoed). */
function flashOf(query: ParticipantPageQuery): string | undefined {
  switch (query.done) {
    case 'roles':
      return 'Roles changed.';
    case 'suspended':
      return `Suspended: its API keys are refused, ${query.cancelled ?? 0} open order(s) cancelled, ${query.disabled ?? 0} node(s) disabled.`;
    case 'resumed':
      return 'Resumed: its API keys work again. Its nodes stay disabled and its cancelled orders stay cancelled until it acts.';
    case 'revoked':
      return 'API key revoked: it stopped working at once.';
    default:
      return undefined;
  }
}

/**
 * Participants: the list, creation, and a participant's page with its roles, balances, open
 * orders, API keys and nodes; changing roles, creating and revoking keys, suspending and resuming
 * (each with a reason, through the same service methods as /v1/admin/participants).
 */
@ApiExcludeController()
@Public() // the console's own session guards it (ops-http.ts)
@UseFilters(OpsExceptionFilter)
@Controller('ops')
export class ParticipantsPageController {
  constructor(
    private readonly participants: ParticipantsService,
    private readonly pages: ParticipantPageService,
  ) {}

  @Get('participants')
  async list(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Query() query: ParticipantsPageQuery) {
    const page = await this.participants.list({ ...query, limit: query.limit ?? 50 });
    const filters = { role: query.role ?? '', status: query.status ?? '', name: query.name ?? '' };
    const next = nextPageHref('/ops/participants', filters, page.nextCursor);
    return renderPage(request, reply, 'participants', { title: 'Participants', participants: page.items, filters, next, roles: ROLES, statuses: PARTICIPANT_STATUSES });
  }

  /** A new participant: answered with its first key, shown on this answer only (never in a URL). */
  @Post('participants')
  async create(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @OpsAdmin() admin: Principal, @Body() form: CreateParticipantForm) {
    const { participant, apiKey } = await this.participants.create(admin, form.name, form.roles, form.reason);
    return this.showKey(request, reply, participant, apiKey.key, apiKey.prefix, 'Participant created');
  }

  @Get('participants/:id')
  async page(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @OpsAdmin() admin: Principal, @Param('id') id: string, @Query() query: ParticipantPageQuery) {
    const page = await this.pages.page(admin, participantId(id), { orders: query.orders, keys: query.keys });
    return renderPage(request, reply, 'participant', { title: page.participant.name, ...page, roles: ROLES, flash: flashOf(query) });
  }

  @Post('participants/:id/roles')
  async roles(@Res() reply: FastifyReply, @OpsAdmin() admin: Principal, @Param('id') id: string, @Body() form: RolesForm) {
    await this.participants.update(admin, participantId(id), { roles: form.roles }, form.reason);
    return redirectAfterPost(reply, `/ops/participants/${id}?done=roles`);
  }

  @Post('participants/:id/suspend')
  async suspend(@Res() reply: FastifyReply, @OpsAdmin() admin: Principal, @Param('id') id: string, @Body() form: ReasonForm) {
    const change = await this.participants.update(admin, participantId(id), { status: 'suspended' }, form.reason);
    return redirectAfterPost(reply, `/ops/participants/${id}?done=suspended&cancelled=${change.cancelledOrderIds.length}&disabled=${change.disabledNodeIds.length}`);
  }

  @Post('participants/:id/resume')
  async resume(@Res() reply: FastifyReply, @OpsAdmin() admin: Principal, @Param('id') id: string, @Body() form: ReasonForm) {
    await this.participants.update(admin, participantId(id), { status: 'active' }, form.reason);
    return redirectAfterPost(reply, `/ops/participants/${id}?done=resumed`);
  }

  /** A new key, answered with the key itself on this page only: not in a URL, not after a redirect. */
  @Post('participants/:id/api-keys')
  async createKey(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @OpsAdmin() admin: Principal, @Param('id') id: string, @Body() form: NewKeyForm) {
    const participant = await this.participants.get(admin, participantId(id));
    const created = await this.participants.createKey(admin, id, form.label, undefined, form.reason);
    return this.showKey(request, reply, participant, created.key, created.prefix, 'API key created');
  }

  @Post('api-keys/:keyId/revoke')
  async revokeKey(@Res() reply: FastifyReply, @OpsAdmin() admin: Principal, @Param('keyId') id: string, @Body() form: ReasonForm) {
    const revoked = await this.participants.revokeKey(admin, keyId(id), form.reason);
    return redirectAfterPost(reply, `/ops/participants/${revoked.participantId}?done=revoked`);
  }

  private showKey(request: FastifyRequest, reply: FastifyReply, participant: { id: string; name: string }, key: string, prefix: string, title: string) {
    void reply.header('cache-control', 'no-store');
    return renderPage(request, reply, 'api-key-created', { title, participant, key, prefix }, 201);
  }
}
