import { Body, Controller, Get, Param, Post, Query, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsISO8601, IsNotEmpty, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Principal, Public } from '../../platform/http/auth.js';
import { PageQuery } from '../../platform/http/pagination.js';
import { SETTLEMENT_KINDS, SETTLEMENT_STATUSES, type SettlementKind, type SettlementStatus } from '../../settlement/settlement.entity.js';
import { SettlementReview } from '../../settlement/settlement-review.service.js';
import { OpsAdmin, OpsExceptionFilter, OpsForm, redirectAfterPost, nextPageHref, renderPage } from '../ops-page.js';

/** A GET filter form sends its blank fields: blank means no filter. */
const blankAsAbsent = Transform(({ value }) => (value === '' ? undefined : value));

export class SettlementsPageQuery extends PageQuery {
  @blankAsAbsent @IsOptional() @IsIn(SETTLEMENT_STATUSES, { message: `status must be one of: ${SETTLEMENT_STATUSES.join(', ')}` })
  status?: SettlementStatus;

  @blankAsAbsent @IsOptional() @IsIn(SETTLEMENT_KINDS, { message: `kind must be one of: ${SETTLEMENT_KINDS.join(', ')}` })
  kind?: SettlementKind;

  @blankAsAbsent @IsOptional() @IsUUID('all', { message: 'participantId must be a UUID' })
  participantId?: string;

  @blankAsAbsent @IsOptional() @IsUUID('all', { message: 'deliveryId must be a UUID' })
  deliveryId?: string;

  @blankAsAbsent @IsOptional() @IsISO8601({ strict: true }, { message: 'from must be an ISO 8601 time, like 2026-11-26T00:00:00Z' })
  from?: string;

  @blankAsAbsent @IsOptional() @IsISO8601({ strict: true }, { message: 'to must be an ISO 8601 time, like 2026-11-27T00:00:00Z' })
  to?: string;
}
Transform(({ value }) => (value === '' ? undefined : value))(SettlementsPageQuery.prototype, 'cursor');

export class SettlementPageQuery {
  @IsOptional() @IsIn(['done', 'failed'])
  retried?: 'done' | 'failed';
}

export class RetryForm extends OpsForm {
  @IsString({ message: 'reason is required' }) @IsNotEmpty({ message: 'reason is required' }) @MaxLength(500, { message: 'reason must be at most 500 characters' })
  reason: string;
}

const FLASH = { done: 'Retried: the step ran and is done.', failed: 'Retried: the ledger refused the step again; it stays failed.' } as const;

/** Settlement steps: the filtered list, one step with its money, and the retry of a failed one. */
@ApiExcludeController()
@Public() // the console's own session guards it (ops-http.ts)
@UseFilters(OpsExceptionFilter)
@Controller('ops/settlements')
export class SettlementsPageController {
  constructor(private readonly review: SettlementReview) {}

  @Get()
  async list(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @OpsAdmin() admin: Principal, @Query() query: SettlementsPageQuery) {
    const page = await this.review.listAll(admin, { ...query, limit: query.limit ?? 50 });
    const filters = { status: query.status, kind: query.kind, participantId: query.participantId, deliveryId: query.deliveryId, from: query.from, to: query.to };
    const next = nextPageHref('/ops/settlements', filters, page.nextCursor);
    return renderPage(request, reply, 'settlements', { title: 'Settlements', page, filters, next, kinds: SETTLEMENT_KINDS, statuses: SETTLEMENT_STATUSES });
  }

  @Get(':id')
  async one(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string, @Query() query: SettlementPageQuery) {
    const detail = await this.review.detail(id);
    return renderPage(request, reply, 'settlement', { title: `Settlement ${id}`, ...detail, flash: query.retried ? FLASH[query.retried] : undefined });
  }

  /** The same service call as POST /v1/admin/settlements/:id/retry. */
  @Post(':id/retry')
  async retry(@Res() reply: FastifyReply, @OpsAdmin() admin: Principal, @Param('id') id: string, @Body() form: RetryForm) {
    const after = await this.review.retry(admin, id, form.reason);
    return redirectAfterPost(reply, `/ops/settlements/${encodeURIComponent(id)}?retried=${after.settlement.status}`);
  }
}
