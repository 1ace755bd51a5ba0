import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Provider scorecards (issue 16, docs/scorecards.md): aggregates per node, model class and
 * 5-minute bucket (sums and exact histograms as jsonb `{value: count}`), per provider for closed
 * deliveries, and the fold's durable state: a cursor per source and the keys folded near it, so
 * each source row is folded exactly once, in the fold job's own transaction.
 */
export class Scorecards1796900000100 implements MigrationInterface {
  name = 'Scorecards1796900000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "scorecard_buckets" (
          "node_id" uuid NOT NULL,
          "model_class_id" text NOT NULL,
          "bucket_start" TIMESTAMP WITH TIME ZONE NOT NULL,
          "provider_id" uuid NOT NULL,
          "requests" bigint NOT NULL DEFAULT '0',
          "failures" bigint NOT NULL DEFAULT '0',
          "sla_misses" bigint NOT NULL DEFAULT '0',
          "output_tokens" bigint NOT NULL DEFAULT '0',
          "verified_tokens" bigint NOT NULL DEFAULT '0',
          "spend_pico" numeric(40,0) NOT NULL DEFAULT '0',
          "ttft_ms" jsonb NOT NULL DEFAULT '{}'::jsonb,
          "latency_ms" jsonb NOT NULL DEFAULT '{}'::jsonb,
          "tps_milli" jsonb NOT NULL DEFAULT '{}'::jsonb,
          "probes" bigint NOT NULL DEFAULT '0',
          "probes_ok" bigint NOT NULL DEFAULT '0',
          "disputes_upheld" bigint NOT NULL DEFAULT '0',
          CONSTRAINT "scorecard_buckets_pkey" PRIMARY KEY ("node_id", "model_class_id", "bucket_start")
      )
    `);
    await queryRunner.query(`CREATE INDEX "scorecard_buckets_class_idx" ON "scorecard_buckets" ("model_class_id", "bucket_start")`);
    await queryRunner.query(`CREATE INDEX "scorecard_buckets_provider_idx" ON "scorecard_buckets" ("provider_id", "model_class_id", "bucket_start")`);
    await queryRunner.query(`
      CREATE TABLE "scorecard_provider_buckets" (
          "provider_id" uuid NOT NULL,
          "model_class_id" text NOT NULL,
          "bucket_start" TIMESTAMP WITH TIME ZONE NOT NULL,
          "deliveries_closed" bigint NOT NULL DEFAULT '0',
          "deliveries_breached" bigint NOT NULL DEFAULT '0',
          CONSTRAINT "scorecard_provider_buckets_pkey" PRIMARY KEY ("provider_id", "model_class_id", "bucket_start")
      )
    `);
    await queryRunner.query(`CREATE INDEX "scorecard_provider_buckets_class_idx" ON "scorecard_provider_buckets" ("model_class_id", "bucket_start")`);
    await queryRunner.query(`
      CREATE TABLE "scorecard_cursors" (
          "source" text NOT NULL,
          "position" text NOT NULL,
          "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "scorecard_cursors_pkey" PRIMARY KEY ("source")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "scorecard_folds" (
          "source" text NOT NULL,
          "key" text NOT NULL,
          "ref_at" TIMESTAMP WITH TIME ZONE NOT NULL,
          CONSTRAINT "scorecard_folds_pkey" PRIMARY KEY ("source", "key")
      )
    `);
    await queryRunner.query(`CREATE INDEX "scorecard_folds_ref_idx" ON "scorecard_folds" ("source", "ref_at")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "scorecard_folds"`);
    await queryRunner.query(`DROP TABLE "scorecard_cursors"`);
    await queryRunner.query(`DROP TABLE "scorecard_provider_buckets"`);
    await queryRunner.query(`DROP TABLE "scorecard_buckets"`);
  }
}
