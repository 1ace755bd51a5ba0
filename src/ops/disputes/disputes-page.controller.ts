import { Body, Controller, Get, Post, Query, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DisputesService } from '../../metering/disputes.service.js';
import { DISPUTE_RESOLUTIONS, type DisputeResolution } from '../../metering/metering.entities.js';
import { Public, type Principal } from '../../platform/http/auth.js';
import { PageQuery } from '../../platform/http/pagination.js';
import { uuidParam } from '../../platform/http/params.js';
import { OpsAdmin, OpsExceptionFilter, OpsForm, redirectAfterPost, nextPageHref, renderPage } from '../ops-page.js';
import { DISPUTE_FILTERS, type DisputeFilter, DisputesPageService } from './disputes-page.service.js';

export class DisputesPageQuery extends PageQuery {
  @IsOptional() @IsIn(DISPUTE_FILTERS, { message: `status must be one of: ${DISPUTE_FILTERS.join(', ')}` })
  status?: DisputeFilter;
}

export class DisputePageQuery {
  @IsOptional() @IsIn(['resolved'])
  done?: 'resolved';
}

/** The resolve form: what POST /v1/admin/disputes/:id/resolve takes, as form fields (a reason is required). */
export class ResolveDisputeForm extends OpsForm {
  @IsIn(DISPUTE_RESOLUTIONS, { message: `resolution must be one of: ${DISPUTE_RESOLUTIONS.join(', ')}` })
  resolution: DisputeResolution;

  /** Split only; the field is sent empty otherwise. */
  @IsOptional() @IsString() @Matches(/^\d{0,15}$/, { message: 'providerTokens must be a whole number of tokens' })
  providerTokens?: string;

  @IsString() @MaxLength(1000)
  reason: string;
}

/** Disputes: the open ones (or resolved, or all), and one with its evidence side by side and the resolve form. */
@ApiExcludeController()
@Public() // the console's own session guards it (ops-http.ts)
@UseFilters(OpsExceptionFilter)
@Controller('ops/disputes')
export class DisputesPageController {
  constructor(
    private readonly page: DisputesPageService,
    private readonly disputes: DisputesService,
  ) {}

  @Get()
  async list(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Query() query: DisputesPageQuery) {
    const status = query.status ?? 'open';
    const limit = query.limit ?? 50;
    const { disputes, nextCursor } = await this.page.list(status, { cursor: query.cursor, limit });
    const next = nextPageHref('/ops/disputes', { status, limit: String(limit) }, nextCursor);
    return renderPage(request, reply, 'disputes', { title: 'Disputes', disputes, status, filters: DISPUTE_FILTERS, next });
  }

  @Get(':id')
  async detail(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @uuidParam('id') id: string, @Query() query: DisputePageQuery) {
    const detail = await this.page.detail(id);
    const flash = query.done === 'resolved' ? `Resolved for ${detail.dispute.resolution}: ${detail.dispute.providerTokens} of ${detail.dispute.tokens} tokens to the provider.` : undefined;
    return renderPage(request, reply, 'dispute', { title: `Dispute ${detail.dispute.kind}`, ...detail, resolutions: DISPUTE_RESOLUTIONS, flash });
  }

  /** The same service method as POST /v1/admin/disputes/:id/resolve, which audits it with the reason. */
  @Post(':id/resolve')
  async resolve(@Res() reply: FastifyReply, @OpsAdmin() admin: Principal, @uuidParam('id') id: string, @Body() form: ResolveDisputeForm) {
    const providerTokens = form.providerTokens ? Number(form.providerTokens) : undefined;
    await this.disputes.resolve(admin, id, { resolution: form.resolution, providerTokens, reason: form.reason });
    return redirectAfterPost(reply, `/ops/disputes/${id}?done=resolved`);
  }
}
