import { Controller, Get, Query, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Principal, Public } from '../../platform/http/auth.js';
import { uuidParam } from '../../platform/http/params.js';
import { PageQuery } from '../../platform/http/pagination.js';
import { DELIVERY_STATES, type DeliveryStateFilter } from '../../settlement/delivery-review.dto.js';
import { DeliveryReview } from '../../settlement/delivery-review.service.js';
import { OpsAdmin, OpsExceptionFilter, nextPageHref, renderPage } from '../ops-page.js';

const blankAsAbsent = Transform(({ value }) => (value === '' ? undefined : value));

export class DeliveriesPageQuery extends PageQuery {
  @blankAsAbsent @IsOptional() @IsIn(DELIVERY_STATES, { message: `state must be one of: ${DELIVERY_STATES.join(', ')}` })
  state?: DeliveryStateFilter;

  @blankAsAbsent @IsOptional() @IsString() @MaxLength(100, { message: 'instrument must be at most 100 characters' })
  instrument?: string;

  @blankAsAbsent @IsOptional() @IsUUID('all', { message: 'participantId must be a UUID' })
  participantId?: string;
}
Transform(({ value }) => (value === '' ? undefined : value))(DeliveriesPageQuery.prototype, 'cursor');

/** What a closing delivery waits for, in words. */
const WAITING = { grace: 'the grace period', dispute: 'an open dispute', failed_step: 'a retry of a failed settlement step', sweep: 'the next close sweep' } as const;

/** Deliveries: open, closing, closed, in breach; one delivery with its probes and SLA evidence. */
@ApiExcludeController()
@Public() // the console's own session guards it (ops-http.ts)
@UseFilters(OpsExceptionFilter)
@Controller('ops/deliveries')
export class DeliveriesPageController {
  constructor(private readonly review: DeliveryReview) {}

  @Get()
  async list(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @OpsAdmin() admin: Principal, @Query() query: DeliveriesPageQuery) {
    const page = await this.review.list(admin, { ...query, limit: query.limit ?? 50 });
    const filters = { state: query.state, instrument: query.instrument, participantId: query.participantId };
    const next = nextPageHref('/ops/deliveries', filters, page.nextCursor);
    return renderPage(request, reply, 'deliveries', { title: 'Deliveries', page, filters, next, states: DELIVERY_STATES, waiting: WAITING });
  }

  @Get(':id')
  async one(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @uuidParam('id') id: string) {
    const detail = await this.review.detail(id);
    return renderPage(request, reply, 'delivery', { title: `Delivery ${id}`, ...detail, waiting: WAITING });
  }
}
