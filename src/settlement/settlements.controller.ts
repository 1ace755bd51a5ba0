import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Page } from '../platform/http/pagination.js';
import { CurrentPrincipal, type Principal, Roles } from '../platform/http/auth.js';
import { SettlementReview } from './settlement-review.service.js';
import { AdminSettlementQuery, RetrySettlementDto, SettlementDetail, SettlementPage, SettlementQuery, type SettlementView } from './settlements.dto.js';

/** Settlement steps: each participant sees those of its own deliveries; an admin sees all, filtered, and retries failed ones. */
@ApiTags('settlement')
@ApiBearerAuth()
@Controller('v1')
export class SettlementsController {
  constructor(private readonly review: SettlementReview) {}

  @Get('settlements')
  @Roles('buyer', 'provider')
  @ApiOkResponse({ type: SettlementPage })
  mine(@CurrentPrincipal() actor: Principal, @Query() query: SettlementQuery): Promise<Page<SettlementView>> {
    return this.review.list({ ...query, participantId: actor.participantId });
  }

  @Get('admin/settlements')
  @Roles('admin')
  @ApiOperation({ summary: 'Every settlement step, newest first, filtered by status, kind, participant, delivery and time' })
  @ApiOkResponse({ type: SettlementPage })
  all(@CurrentPrincipal() admin: Principal, @Query() query: AdminSettlementQuery): Promise<Page<SettlementView>> {
    return this.review.listAll(admin, query);
  }

  @Get('admin/settlements/:id')
  @Roles('admin')
  @ApiOperation({ summary: 'One settlement step with its delivery, the verified usage it paid and its ledger transfers' })
  @ApiOkResponse({ type: SettlementDetail })
  one(@Param('id') id: string): Promise<SettlementDetail> {
    return this.review.detail(id);
  }

  @Post('admin/settlements/:id/retry')
  @Roles('admin')
  @HttpCode(200)
  @ApiOperation({
    summary: "Run a failed step again, once, by the settlement worker's own path (audited, with a reason)",
    description:
      'Answers the step as it stands after the run: status done, or failed again with the ledger’s new refusal (attempts counts the runs). ' +
      'A step that is done, or has nothing to run now, answers 409 (SETTLEMENT_NOT_FAILED, SETTLEMENT_NOT_RETRYABLE) and moves no money.',
  })
  @ApiOkResponse({ type: SettlementDetail })
  retry(@CurrentPrincipal() admin: Principal, @Param('id') id: string, @Body() dto: RetrySettlementDto): Promise<SettlementDetail> {
    return this.review.retry(admin, id, dto.reason);
  }
}
