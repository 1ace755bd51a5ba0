import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal, Roles } from '../platform/http/auth.js';
import { uuidParam } from '../platform/http/params.js';
import { AdminDeliveryDetail, AdminDeliveryPage, AdminDeliveryQuery } from './delivery-review.dto.js';
import { DeliveryReview } from './delivery-review.service.js';

/** Every delivery, for admins: where it stands, breach, and the SLA evidence a close judges by. */
@ApiTags('deliveries')
@ApiBearerAuth()
@Controller('v1/admin/deliveries')
export class AdminDeliveriesController {
  constructor(private readonly review: DeliveryReview) {}

  @Get()
  @Roles('admin')
  @ApiOperation({ summary: 'Deliveries newest first: open, closing (and why), closed, in breach; by instrument and participant' })
  @ApiOkResponse({ type: AdminDeliveryPage })
  list(@CurrentPrincipal() admin: Principal, @Query() query: AdminDeliveryQuery): Promise<AdminDeliveryPage> {
    return this.review.list(admin, query);
  }

  @Get(':id')
  @Roles('admin')
  @ApiOperation({ summary: "One delivery with its probes, the SLA evidence a close judges by, and its settlement steps" })
  @ApiOkResponse({ type: AdminDeliveryDetail })
  one(@uuidParam('id') id: string): Promise<AdminDeliveryDetail> {
    return this.review.detail(id);
  }
}
