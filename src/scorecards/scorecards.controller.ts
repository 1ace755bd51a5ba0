import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { invalid } from '../common/domain-error.js';
import { Public } from '../platform/http/auth.js';
import { LeagueQuery, LeagueResponse, ProviderScorecardQuery, ProviderScorecardResponse } from './scorecards.dto.js';
import { ScorecardsService } from './scorecards.service.js';

/** Public scorecards: what tokex verified of each provider's deliveries (docs/scorecards.md). */
@ApiTags('scorecards')
@Controller('v1')
export class ScorecardsController {
  constructor(private readonly scorecards: ScorecardsService) {}

  @Get('providers/:id/scorecard')
  @Public()
  @ApiOperation({ summary: 'A provider’s scorecard per model class and node, over the last hour, day or 30 days; :id is its public name' })
  @ApiOkResponse({ type: ProviderScorecardResponse })
  @ApiParam({ name: 'id', description: 'The provider’s public name (its participant name), URL-encoded', example: 'Acme GPU Cloud' })
  @ApiNotFoundResponse({ description: 'PROVIDER_NOT_FOUND: no provider has that name' })
  @ApiConflictResponse({ description: 'PROVIDER_NAME_AMBIGUOUS: two providers share the name' })
  provider(@Param('id') id: string, @Query() query: ProviderScorecardQuery): Promise<ProviderScorecardResponse> {
    if (id.length === 0 || id.length > 200) throw invalid('VALIDATION_FAILED', 'id must be a provider’s public name (1 to 200 characters)', { fields: ['id'] });
    return this.scorecards.provider(id, query.window, query.modelClass);
  }

  @Get('scorecards')
  @Public()
  @ApiOperation({ summary: 'The league table of a model class: every provider’s scorecard, best first as a buyer would rank them' })
  @ApiOkResponse({ type: LeagueResponse })
  league(@Query() query: LeagueQuery): Promise<LeagueResponse> {
    return this.scorecards.league(query.modelClass, query.window, query.limit, query.cursor);
  }
}
