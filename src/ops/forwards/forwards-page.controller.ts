import { Body, Controller, Get, Param, Post, Query, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseUsd } from '../../common/money.js';
import { ForwardsService } from '../../forwards/forwards.service.js';
import { FundingService } from '../../funding/funding.service.js';
import { type Principal, Public } from '../../platform/http/auth.js';
import { OpsAdmin, OpsExceptionFilter, redirectAfterPost, renderPage } from '../ops-page.js';
import {
  ContractQuery,
  ContractsQuery,
  DefaultsQuery,
  DONE,
  type Done,
  ExpireForm,
  InsuranceDepositForm,
  MarginCallsQuery,
  PositionsQuery,
  RunMarkForm,
} from './forwards-forms.js';
import { ForwardsPageService } from './forwards-page.service.js';

const BASE = '/ops/forwards';
const flash = (done: Done | undefined) => (done ? DONE[done] : undefined);
const contractPath = (symbol: string) => `${BASE}/${encodeURIComponent(symbol)}`;

/**
 * Forwards: the contracts, every position and its margin, a contract's marks with their inputs,
 * margin calls and defaults with the insurance fund; and the admin's actions on them (run a mark,
 * expire a contract, fund the insurance), each the same service call as its admin API route.
 */
@ApiExcludeController()
@Public() // the console's own session guards it (ops-http.ts)
@UseFilters(OpsExceptionFilter)
@Controller('ops/forwards')
export class ForwardsPageController {
  constructor(
    private readonly page: ForwardsPageService,
    private readonly forwards: ForwardsService,
    private readonly funding: FundingService,
  ) {}

  @Get()
  async contracts(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Query() query: ContractsQuery) {
    const [contracts, insurance] = await Promise.all([this.page.contracts(query.cursor), this.page.insuranceFund()]);
    return renderPage(request, reply, 'forwards', { title: 'Forwards', tab: 'contracts', contracts, firstPage: query.cursor === undefined, insurance, flash: flash(query.done) });
  }

  @Get('positions')
  async positions(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Query() query: PositionsQuery) {
    const positions = await this.page.positions(query);
    return renderPage(request, reply, 'forward-positions', { title: 'Forwards: positions', tab: 'positions', positions, query });
  }

  @Get('margin-calls')
  async marginCalls(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Query() query: MarginCallsQuery) {
    const events = await this.page.marginEvents(query);
    return renderPage(request, reply, 'forward-margin-calls', { title: 'Forwards: margin calls', tab: 'margin-calls', events, query });
  }

  @Get('defaults')
  async defaults(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Query() query: DefaultsQuery) {
    const [events, insurance] = await Promise.all([this.page.defaults(query.cursor), this.page.insuranceFund()]);
    return renderPage(request, reply, 'forward-defaults', { title: 'Forwards: defaults', tab: 'defaults', events, insurance, flash: flash(query.done) });
  }

  /** The same call as `POST /v1/admin/insurance-fund/deposits`; the reason goes to the audit trail. */
  @Post('insurance-fund/deposits')
  async fundInsurance(@Res() reply: FastifyReply, @OpsAdmin() admin: Principal, @Body() form: InsuranceDepositForm) {
    const amount = parseUsd(form.amount);
    if (!amount.ok) throw new Error('unvalidated amount'); // the form's validator let it through: a bug
    await this.funding.fundInsurance(admin, amount.micros, { reference: form.reference, reason: form.reason }, undefined, undefined);
    return redirectAfterPost(reply, `${BASE}/defaults?done=insurance`);
  }

  @Get(':symbol')
  async contract(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Param('symbol') symbol: string, @Query() query: ContractQuery) {
    const contract = await this.page.contract(symbol, { positions: query.positionsCursor, marks: query.marksCursor });
    return renderPage(request, reply, 'forward', { title: `Forward ${symbol}`, tab: 'contracts', ...contract, flash: flash(query.done) });
  }

  /** The same call as `POST /v1/admin/forwards/:symbol/marks`. */
  @Post(':symbol/marks')
  async runMark(@Res() reply: FastifyReply, @OpsAdmin() admin: Principal, @Param('symbol') symbol: string, @Body() form: RunMarkForm) {
    await this.forwards.runMark(admin, symbol, { day: form.day, price: form.price, reason: form.reason });
    return redirectAfterPost(reply, `${contractPath(symbol)}?done=marked`);
  }

  /** The same call as `POST /v1/admin/forwards/:symbol/expire`. */
  @Post(':symbol/expire')
  async expire(@Res() reply: FastifyReply, @OpsAdmin() admin: Principal, @Param('symbol') symbol: string, @Body() form: ExpireForm) {
    await this.forwards.expire(admin, symbol, form.reason);
    return redirectAfterPost(reply, `${contractPath(symbol)}?done=expired`);
  }
}
