import { Controller, Get, Param, ParseUUIDPipe, Query, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional, Matches } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MODEL_CLASS_ID_PATTERN, MODEL_CLASS_ID_RULE } from '../../markets/instrument-terms.js';
import { MarketsService } from '../../markets/markets.service.js';
import { Public } from '../../platform/http/auth.js';
import { WINDOW_NAMES, type WindowName } from '../../scorecards/core/index.js';
import { ScorecardsService } from '../../scorecards/scorecards.service.js';
import { OpsExceptionFilter, renderPage } from '../ops-page.js';

const blankAsAbsent = ({ value }: { value: unknown }) => (typeof value === 'string' && value.trim() === '' ? undefined : value);

export class ScorecardsPageQuery {
  @IsOptional() @Transform(blankAsAbsent) @Matches(MODEL_CLASS_ID_PATTERN, { message: `modelClass must be ${MODEL_CLASS_ID_RULE}` })
  modelClass?: string;

  @IsOptional() @Transform(blankAsAbsent) @IsIn(WINDOW_NAMES, { message: `window must be one of: ${WINDOW_NAMES.join(', ')}` })
  window?: WindowName;
}

export class ProviderScorecardPageQuery {
  @IsOptional() @Transform(blankAsAbsent) @IsIn(WINDOW_NAMES, { message: `window must be one of: ${WINDOW_NAMES.join(', ')}` })
  window?: WindowName;
}

/**
 * Scorecards in the console (docs/scorecards.md): a model class's league table, with the market's
 * figures, and a provider's scorecard per model class and node; the same service as the public
 * routes, with the providers' ids for links.
 */
@ApiExcludeController()
@Public() // the console's own session guards it (ops-http.ts)
@UseFilters(OpsExceptionFilter)
@Controller('ops/scorecards')
export class ScorecardsPageController {
  constructor(
    private readonly scorecards: ScorecardsService,
    private readonly markets: MarketsService,
  ) {}

  @Get()
  async league(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Query() query: ScorecardsPageQuery) {
    const classes = (await this.markets.listModelClasses({ limit: 1000 })).items.map((c) => c.id);
    const modelClass = query.modelClass ?? classes[0];
    const window = query.window ?? '24h';
    const table = modelClass ? await this.scorecards.ranked(modelClass, window) : null;
    return renderPage(request, reply, 'scorecards', { title: 'Scorecards', classes, modelClass, window, windows: WINDOW_NAMES, table });
  }

  @Get('providers/:id')
  async provider(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Param('id', new ParseUUIDPipe()) id: string, @Query() query: ProviderScorecardPageQuery) {
    const window = query.window ?? '24h';
    const card = await this.scorecards.providerById(id, window);
    return renderPage(request, reply, 'scorecard', { title: `Scorecard: ${card.provider}`, id, card, window, windows: WINDOW_NAMES });
  }
}
