import { Controller, Get, Param, Query, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../../platform/http/auth.js';
import { PageQuery } from '../../platform/http/pagination.js';
import { OpsExceptionFilter, renderPage } from '../ops-page.js';
import { LedgerPageService } from './ledger-page.service.js';

export class LedgerPageQuery extends PageQuery {
  /** A participant id, or part of a name. */
  @IsOptional() @IsString() @MaxLength(200)
  participant?: string;
}

export class TransferLookupQuery {
  @IsOptional() @IsString() @MaxLength(200)
  id?: string;
}

/** The ledger: a participant's accounts and transfers (searched by id or name), and any transfer by id. */
@ApiExcludeController()
@Public() // the console's own session guards it (ops-http.ts)
@UseFilters(OpsExceptionFilter)
@Controller('ops/ledger')
export class LedgerPageController {
  constructor(private readonly page: LedgerPageService) {}

  @Get()
  async ledger(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Query() query: LedgerPageQuery) {
    const q = query.participant?.trim() ?? '';
    const limit = query.limit ?? 50;
    const found = q === '' ? { ledger: null, matches: [] } : await this.page.search(q, { cursor: query.cursor, limit });
    const next = found.ledger?.transfers.nextCursor
      ? `/ops/ledger?participant=${found.ledger.participantId}&limit=${limit}&cursor=${encodeURIComponent(found.ledger.transfers.nextCursor)}`
      : null;
    const title = found.ledger ? `Ledger: ${found.ledger.name}` : 'Ledger';
    return renderPage(request, reply, 'ledger', { title, q, ...found, next });
  }

  /** The "transfer by id" box: to the transfer's own page. */
  @Get('transfers')
  lookup(@Res() reply: FastifyReply, @Query() query: TransferLookupQuery) {
    const id = query.id?.trim();
    return reply.redirect(id ? `/ops/ledger/transfers/${encodeURIComponent(id)}` : '/ops/ledger', 303);
  }

  @Get('transfers/:id')
  async transfer(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string) {
    const found = await this.page.transfer(id);
    return renderPage(request, reply, 'ledger-transfer', { title: 'Transfer', ...found });
  }
}
