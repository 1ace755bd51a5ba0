import { Body, Controller, Get, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { PageQuery } from '../platform/http/pagination.js';
import { uuidParam } from '../platform/http/params.js';
import { CurrentPrincipal, type Principal, Roles } from '../platform/http/auth.js';
import { NodePage, NodeView, RegisterNodeDto, UpdateNodeDto } from './nodes.dto.js';
import { NodesService } from './nodes.service.js';

@ApiTags('nodes')
@ApiBearerAuth()
@Roles('provider')
@Controller('v1/nodes')
export class NodesController {
  constructor(private readonly nodes: NodesService) {}

  @Post()
  @ApiOperation({ summary: 'Register an inference node: its API, its metrics, the Ed25519 key that signs its usage, its capacity' })
  @ApiCreatedResponse({ type: NodeView })
  register(@CurrentPrincipal() actor: Principal, @Body() dto: RegisterNodeDto): Promise<NodeView> {
    return this.nodes.register(actor, dto);
  }

  @Get()
  @ApiOperation({ summary: "The caller's nodes, oldest first" })
  @ApiOkResponse({ type: NodePage })
  list(@CurrentPrincipal() actor: Principal, @Query() query: PageQuery): Promise<NodePage> {
    return this.nodes.list(actor, query);
  }

  @Get(':id')
  @ApiOkResponse({ type: NodeView })
  get(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string): Promise<NodeView> {
    return this.nodes.get(actor, id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Enable or disable a node, or change its capacity, URLs or name; the key never changes' })
  @ApiOkResponse({ type: NodeView })
  update(@CurrentPrincipal() actor: Principal, @uuidParam('id') id: string, @Body() dto: UpdateNodeDto): Promise<NodeView> {
    return this.nodes.update(actor, id, dto);
  }
}
