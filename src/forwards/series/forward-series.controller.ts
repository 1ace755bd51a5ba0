import { Body, Controller, Get, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal, Roles } from '../../platform/http/auth.js';
import { PageQuery } from '../../platform/http/pagination.js';
import { uuidParam } from '../../platform/http/params.js';
import { CreateForwardSeriesDto, ForwardSeriesPage, ForwardSeriesView, UpdateForwardSeriesDto } from './forward-series.dto.js';
import { ForwardSeriesService } from './forward-series.service.js';

/** Admin routes of forward series (market-rules §6); the contracts they list are on /v1/instruments. */
@ApiTags('forwards')
@ApiBearerAuth()
@Controller('v1/admin/forward-series')
export class ForwardSeriesController {
  constructor(private readonly series: ForwardSeriesService) {}

  @Post()
  @Roles('admin')
  @ApiOperation({ summary: 'Define a forward series; its next contracts are listed at once, then kept listed by the worker' })
  @ApiCreatedResponse({ type: ForwardSeriesView })
  create(@CurrentPrincipal() actor: Principal, @Body() dto: CreateForwardSeriesDto): Promise<ForwardSeriesView> {
    // Optional DTO fields arrive as undefined or null (both "not given"); the terms take undefined.
    const given = Object.fromEntries(Object.entries(dto).filter(([, value]) => value !== null && value !== undefined));
    return this.series.create(actor, given as CreateForwardSeriesDto);
  }

  @Get()
  @Roles('admin')
  @ApiOperation({ summary: 'Forward series, oldest first' })
  @ApiOkResponse({ type: ForwardSeriesPage })
  list(@Query() query: PageQuery): Promise<ForwardSeriesPage> {
    return this.series.list(query);
  }

  @Get(':id')
  @Roles('admin')
  @ApiOkResponse({ type: ForwardSeriesView })
  get(@uuidParam('id') id: string): Promise<ForwardSeriesView> {
    return this.series.get(id);
  }

  @Patch(':id')
  @Roles('admin')
  @ApiOperation({ summary: 'Change periodsAhead, or pause (active: false) and resume a series; listed contracts trade on' })
  @ApiOkResponse({ type: ForwardSeriesView })
  update(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string, @Body() dto: UpdateForwardSeriesDto): Promise<ForwardSeriesView> {
    return this.series.update(actor, id, { periodsAhead: dto.periodsAhead ?? undefined, active: dto.active ?? undefined });
  }
}
