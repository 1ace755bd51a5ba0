import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Metering (issue 6): signed usage batches stored as signed (body and signature, keyed by node and
 * the node's batch id), the requests they report (one row per node and request id, so a resend
 * counts once), buyers' own reports, disputes, the nodes' scraped counters and the exchange's
 * audit requests. Generated from the entities, then tidied.
 */
export class Metering1796100000300 implements MigrationInterface {
  name = 'Metering1796100000300';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "usage_batches" (
          "node_id" uuid NOT NULL,
          "batch_id" text NOT NULL,
          "provider_id" uuid NOT NULL,
          "body" text NOT NULL,
          "signature" text NOT NULL,
          "record_count" integer NOT NULL,
          "answer" jsonb NOT NULL,
          "status" text NOT NULL DEFAULT 'received',
          "received_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          "verified_at" TIMESTAMP WITH TIME ZONE,
          CONSTRAINT "usage_batches_status_known" CHECK (status IN ('received', 'verified')),
          CONSTRAINT "PK_ebf2edb518240827c27a934f416" PRIMARY KEY ("node_id", "batch_id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "usage_batches_received_idx" ON "usage_batches" ("received_at")
    `);
    await queryRunner.query(`
      CREATE TABLE "usage_records" (
          "node_id" uuid NOT NULL,
          "request_id" text NOT NULL,
          "batch_id" text NOT NULL,
          "delivery_id" uuid NOT NULL,
          "key_id" uuid,
          "output_sha256" text,
          "model" text NOT NULL,
          "prompt_tokens" integer NOT NULL,
          "completion_tokens" integer NOT NULL,
          "started_at" TIMESTAMP WITH TIME ZONE NOT NULL,
          "finished_at" TIMESTAMP WITH TIME ZONE NOT NULL,
          "ttft_ms" integer NOT NULL,
          "status" text NOT NULL,
          "stream" boolean NOT NULL,
          "reported_billable" bigint NOT NULL,
          "verdict" text,
          "billable_tokens" bigint,
          "within_sla" boolean,
          "flags" text array NOT NULL DEFAULT '{}',
          CONSTRAINT "usage_records_verdict_known" CHECK (verdict IS NULL OR verdict IN ('verified', 'disputed', 'rejected', 'audit')),
          CONSTRAINT "PK_4f886b21caaab5972fcde057ae1" PRIMARY KEY ("node_id", "request_id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "usage_records_batch_idx" ON "usage_records" ("node_id", "batch_id")
    `);
    await queryRunner.query(`
      CREATE INDEX "usage_records_delivery_idx" ON "usage_records" ("delivery_id", "started_at")
    `);
    await queryRunner.query(`
      CREATE TABLE "buyer_reports" (
          "delivery_id" uuid NOT NULL,
          "request_id" text NOT NULL,
          "buyer_id" uuid NOT NULL,
          "prompt_tokens" integer NOT NULL,
          "completion_tokens" integer NOT NULL,
          "reported_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "PK_8b87da05ea1e2a4bfe3f0ccb6a8" PRIMARY KEY ("delivery_id", "request_id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "buyer_reports_delivery_idx" ON "buyer_reports" ("delivery_id")
    `);
    await queryRunner.query(`
      CREATE TABLE "disputes" (
          "id" uuid NOT NULL DEFAULT gen_random_uuid(),
          "key" text NOT NULL,
          "delivery_id" uuid NOT NULL,
          "node_id" uuid NOT NULL,
          "provider_id" uuid NOT NULL,
          "buyer_id" uuid NOT NULL,
          "kind" text NOT NULL,
          "tokens" bigint NOT NULL,
          "evidence" jsonb NOT NULL,
          "status" text NOT NULL DEFAULT 'open',
          "resolution" text,
          "provider_tokens" bigint,
          "reason" text,
          "resolved_by" uuid,
          "resolved_at" TIMESTAMP WITH TIME ZONE,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "disputes_resolution_known" CHECK (resolution IS NULL OR resolution IN ('provider', 'buyer', 'split')),
          CONSTRAINT "disputes_status_known" CHECK (status IN ('open', 'resolved')),
          CONSTRAINT "PK_3c97580d01c1a4b0b345c42a107" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "disputes_key" ON "disputes" ("key")
    `);
    await queryRunner.query(`
      CREATE INDEX "disputes_delivery_idx" ON "disputes" ("delivery_id")
    `);
    await queryRunner.query(`
      CREATE INDEX "disputes_open_idx" ON "disputes" ("created_at") WHERE status = 'open'
    `);
    await queryRunner.query(`
      CREATE TABLE "node_counter_samples" (
          "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
          "node_id" uuid NOT NULL,
          "scraped_at" TIMESTAMP WITH TIME ZONE NOT NULL,
          "prompt_tokens_total" numeric NOT NULL,
          "generation_tokens_total" numeric NOT NULL,
          "request_success_total" numeric NOT NULL,
          CONSTRAINT "PK_f21a56c7c2d41d1dc725db20a97" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "node_counter_samples_node_idx" ON "node_counter_samples" ("node_id", "scraped_at")
    `);
    await queryRunner.query(`
      CREATE TABLE "node_audits" (
          "id" uuid NOT NULL DEFAULT gen_random_uuid(),
          "node_id" uuid NOT NULL,
          "delivery_id" uuid NOT NULL,
          "request_id" text,
          "ok" boolean NOT NULL,
          "answered_prompt_tokens" integer,
          "answered_completion_tokens" integer,
          "recounted_completion_tokens" integer,
          "error" text,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "PK_805a0944040a3b05070e4b3eed6" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "node_audits_node_idx" ON "node_audits" ("node_id", "created_at")
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DROP INDEX "public"."node_audits_node_idx"
    `);
    await queryRunner.query(`
      DROP TABLE "node_audits"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."node_counter_samples_node_idx"
    `);
    await queryRunner.query(`
      DROP TABLE "node_counter_samples"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."disputes_open_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."disputes_delivery_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."disputes_key"
    `);
    await queryRunner.query(`
      DROP TABLE "disputes"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."buyer_reports_delivery_idx"
    `);
    await queryRunner.query(`
      DROP TABLE "buyer_reports"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."usage_records_delivery_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."usage_records_batch_idx"
    `);
    await queryRunner.query(`
      DROP TABLE "usage_records"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."usage_batches_received_idx"
    `);
    await queryRunner.query(`
      DROP TABLE "usage_batches"
    `);
  }
}
