import { Module } from '@nestjs/common';
import { ScorecardBucketsRepository } from './scorecard-buckets.repository.js';
import { ScorecardFoldJob } from './scorecard-fold.js';
import { ScorecardsController } from './scorecards.controller.js';
import { ScorecardsService } from './scorecards.service.js';

/** Provider scorecards (issue 16, docs/scorecards.md): the fold job, the public routes. */
@Module({
  controllers: [ScorecardsController],
  providers: [ScorecardBucketsRepository, ScorecardFoldJob, ScorecardsService],
  exports: [ScorecardsService, ScorecardFoldJob],
})
export class ScorecardsModule {}
