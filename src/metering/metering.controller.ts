import { Body, Controller, Get, Headers, HttpCode, Post, Query, type RawBodyRequest, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { uuidParam } from '../platform/http/params.js';
import { BodyLimit, RawBodyOnly } from '../platform/http/route-limits.js';
import { gatedSender, USAGE_BATCH_BODY_LIMIT } from './usage-batch-gate.js';
import { CurrentPrincipal, type Principal, Public, Roles } from '../platform/http/auth.js';
import { DisputesService } from './disputes.service.js';
import { BuyerReportAnswer, BuyerReportDto, DisputeDetailView, DisputePage, DisputeQuery, DisputeView, ResolveDisputeDto, UsageBatchAnswer } from './metering.dto.js';
import { MeteringService } from './metering.service.js';

@ApiTags('metering')
@Controller('v1')
export class MeteringController {
  constructor(
    private readonly metering: MeteringService,
    private readonly disputes: DisputesService,
  ) {}

  @Post('metering/usage-batches')
  @Public() // authenticated by the node's Ed25519 signature over the payload, checked first
  @BodyLimit(USAGE_BATCH_BODY_LIMIT) // read only for a registered node (usage-batch-gate.ts)
  @RawBodyOnly() // parsed only once the signature verifies
  @ApiOperation({
    summary: 'A node agent reports signed usage',
    description:
      'Answered 202 once stored (verification is asynchronous); a resent batch gets its first answer again with 200. ' +
      'Where ingest yields to order entry (INGEST_YIELD_TARGET_MS), a batch may wait up to 2 s, or get 503 INGEST_BUSY with Retry-After: post it again then.',
  })
  @ApiOkResponse({ type: UsageBatchAnswer })
  @ApiHeader({ name: 'X-Tokex-Node', description: 'The node id', required: true })
  @ApiHeader({ name: 'X-Tokex-Signature', description: 'base64url Ed25519 signature of the exact body bytes, by the node key', required: true })
  async ingest(
    @Req() request: RawBodyRequest<FastifyRequest>,
    @Headers('x-tokex-node') nodeId: string | undefined,
    @Headers('x-tokex-signature') signature: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<UsageBatchAnswer> {
    const { first, answer } = await this.metering.ingest(request.rawBody, nodeId, signature, gatedSender(request));
    void reply.status(first ? 202 : 200);
    return answer;
  }

  @Post('metering/buyer-reports')
  @ApiBearerAuth()
  @Roles('buyer')
  @HttpCode(202)
  @ApiOperation({ summary: "A buyer's own token counts for requests it sent under a delivery" })
  @ApiOkResponse({ type: BuyerReportAnswer })
  buyerReport(@CurrentPrincipal() actor: Principal, @Body() dto: BuyerReportDto): Promise<BuyerReportAnswer> {
    return this.metering.buyerReport(actor, dto);
  }

  @Get('admin/disputes')
  @ApiBearerAuth()
  @Roles('admin')
  @ApiOkResponse({ type: DisputePage })
  list(@Query() query: DisputeQuery): Promise<DisputePage> {
    return this.disputes.list(query);
  }

  @Get('admin/disputes/:id')
  @ApiBearerAuth()
  @Roles('admin')
  @ApiOperation({ summary: "A dispute with its evidence side by side: the node's signed report, the buyer's counts, the exchange's audits, the node's counters" })
  @ApiOkResponse({ type: DisputeDetailView })
  get(@uuidParam('id') id: string): Promise<DisputeDetailView> {
    return this.disputes.get(id);
  }

  @Post('admin/disputes/:id/resolve')
  @ApiBearerAuth()
  @Roles('admin')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Resolve an open dispute for the provider, the buyer, or split, with a reason (audited)',
    description: 'A dispute that is already resolved answers 409 DISPUTE_RESOLVED.',
  })
  @ApiOkResponse({ type: DisputeView })
  resolve(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string, @Body() dto: ResolveDisputeDto): Promise<DisputeView> {
    return this.disputes.resolve(actor, id, dto);
  }
}
