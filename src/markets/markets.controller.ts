import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { PageQuery } from '../platform/http/pagination.js';
import { CurrentPrincipal, type Principal, Public, Roles } from '../platform/http/auth.js';
import type { InstrumentRequest } from './instrument-terms.js';
import {
  ChangeInstrumentStatusDto,
  CreateInstrumentDto,
  CreateModelClassDto,
  InstrumentPage,
  InstrumentQuery,
  InstrumentView,
  ModelClassPage,
  ModelClassView,
} from './markets.dto.js';
import { modelClassIdParam, symbolParam } from './markets.params.js';
import { MarketsService } from './markets.service.js';

/** Optional DTO fields arrive as undefined or null (both "not given"); the terms take undefined. */
const instrumentRequest = (dto: CreateInstrumentDto): InstrumentRequest => ({
  modelClassId: dto.modelClassId,
  kind: dto.kind,
  deliveryPeriod: dto.deliveryPeriod ?? undefined,
  tickSize: dto.tickSize ?? undefined,
  lotSize: dto.lotSize ?? undefined,
  makerFeeBps: dto.makerFeeBps ?? undefined,
  takerFeeBps: dto.takerFeeBps ?? undefined,
  collarBps: dto.collarBps ?? undefined,
  spotWindowSeconds: dto.spotWindowSeconds ?? undefined,
  bondBps: dto.bondBps ?? undefined,
  initialMarginBps: dto.initialMarginBps ?? undefined,
  maintenanceMarginBps: dto.maintenanceMarginBps ?? undefined,
  lastTradeAt: dto.lastTradeAt == null ? undefined : new Date(dto.lastTradeAt),
});

/** Reads are public market data; writes are admin actions (and say so in the OpenAPI document). */
@ApiTags('markets')
@Controller('v1')
export class MarketsController {
  constructor(private readonly markets: MarketsService) {}

  @Get('model-classes')
  @Public()
  @ApiOperation({ summary: 'Model classes: what a token is of, its tokenizer, prompt weight and SLA' })
  @ApiOkResponse({ type: ModelClassPage })
  listModelClasses(@Query() query: PageQuery): Promise<ModelClassPage> {
    return this.markets.listModelClasses(query);
  }

  @Get('model-classes/:id')
  @Public()
  @ApiOkResponse({ type: ModelClassView })
  getModelClass(@modelClassIdParam('id') id: string): Promise<ModelClassView> {
    return this.markets.getModelClass(id);
  }

  @Post('admin/model-classes')
  @Roles('admin')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Add a model class; its id is the stem of its instruments\' symbols' })
  @ApiCreatedResponse({ type: ModelClassView })
  createModelClass(@CurrentPrincipal() actor: Principal, @Body() dto: CreateModelClassDto): Promise<ModelClassView> {
    return this.markets.createModelClass(actor, dto);
  }

  @Get('instruments')
  @Public()
  @ApiOperation({ summary: 'Spot and forward instruments, oldest first' })
  @ApiOkResponse({ type: InstrumentPage })
  listInstruments(@Query() query: InstrumentQuery): Promise<InstrumentPage> {
    return this.markets.listInstruments(query);
  }

  @Get('instruments/:symbol')
  @Public()
  @ApiOkResponse({ type: InstrumentView })
  getInstrument(@symbolParam('symbol') symbol: string): Promise<InstrumentView> {
    return this.markets.getInstrument(symbol);
  }

  @Post('admin/instruments')
  @Roles('admin')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'List an instrument; the server derives its symbol from the model class, kind and delivery period' })
  @ApiCreatedResponse({ type: InstrumentView })
  createInstrument(@CurrentPrincipal() actor: Principal, @Body() dto: CreateInstrumentDto): Promise<InstrumentView> {
    return this.markets.createInstrument(actor, instrumentRequest(dto));
  }

  @Post('admin/instruments/:symbol/halt')
  @HttpCode(200)
  @Roles('admin')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Stop trading an instrument; halting a halted instrument changes nothing' })
  @ApiOkResponse({ type: InstrumentView })
  halt(@CurrentPrincipal() actor: Principal, @symbolParam('symbol') symbol: string, @Body() dto: ChangeInstrumentStatusDto): Promise<InstrumentView> {
    return this.markets.setInstrumentStatus(actor, symbol, 'halted', dto.reason);
  }

  @Post('admin/instruments/:symbol/resume')
  @HttpCode(200)
  @Roles('admin')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Resume trading a halted instrument; resuming an active one changes nothing' })
  @ApiOkResponse({ type: InstrumentView })
  resume(@CurrentPrincipal() actor: Principal, @symbolParam('symbol') symbol: string, @Body() dto: ChangeInstrumentStatusDto): Promise<InstrumentView> {
    return this.markets.setInstrumentStatus(actor, symbol, 'active', dto.reason);
  }
}
