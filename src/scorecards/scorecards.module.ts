import { Module } from '@nestjs/common';
import { MarketsModule } from '../markets/markets.module.js';
import { ScorecardBucketsRepository } from './scorecard-buckets.repository.js';
import { ScorecardFoldJob } from './scorecard-fold.js';
import { ScorecardMetrics } from './scorecard-metrics.js';
import { ScorecardsController } from './scorecards.controller.js';
import { ScorecardsService } from './scorecards.service.js';

/** Provider scorecards (issue 16, docs/scorecards.md): the fold job, the public routes, the market's metrics. */
@Module({
  imports: [MarketsModule],
  controllers: [ScorecardsController],
  providers: [ScorecardBucketsRepository, ScorecardFoldJob, ScorecardsService, ScorecardMetrics],
  exports: [ScorecardsService, ScorecardFoldJob],
})
export class ScorecardsModule {}
