import { Module } from '@nestjs/common';
import { ScorecardBucketsRepository } from './scorecard-buckets.repository.js';
import { ScorecardFoldJob } from './scorecard-fold.js';

/** Provider scorecards (issue 16, docs/scorecards.md): the fold job. */
@Module({
  providers: [ScorecardBucketsRepository, ScorecardFoldJob],
  exports: [ScorecardFoldJob],
})
export class ScorecardsModule {}
