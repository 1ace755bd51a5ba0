import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Metering that cannot be dodged (issue 14, item 7):
 * - `node_reconciliations`: each node's running reconciliation with its own counters, from a
 *   baseline sample: the counters' growth and the node's reported tokens since then, so a batch
 *   is checked against everything the node reported, not its own span alone (docs/metering.md).
 * - `usage_records_node_started_idx`: a node's requests since its last audit (audits are due every
 *   so many requests as well as every so often).
 * - `disputes_node_open_idx`: whether a node is under review, read for every batch.
 * - `node_audits.endpoint` and `stream`: audits go through chat completions as well as
 *   completions, streamed or not, as buyers' requests do; `ok` is null while an audit is in
 *   flight, its row written first so that two workers never audit a node at once.
 */
export class CumulativeReconciliation1796600000100 implements MigrationInterface {
  name = 'CumulativeReconciliation1796600000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "node_reconciliations" (
          "node_id" uuid NOT NULL,
          "baseline_at" TIMESTAMP WITH TIME ZONE NOT NULL,
          "checked_at" TIMESTAMP WITH TIME ZONE NOT NULL,
          "last_prompt_total" numeric NOT NULL,
          "last_generation_total" numeric NOT NULL,
          "counted_prompt_tokens" numeric NOT NULL DEFAULT '0',
          "counted_generation_tokens" numeric NOT NULL DEFAULT '0',
          "reported_requests" bigint NOT NULL DEFAULT '0',
          "reported_prompt_tokens" bigint NOT NULL DEFAULT '0',
          "reported_completion_tokens" bigint NOT NULL DEFAULT '0',
          "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "node_reconciliations_pkey" PRIMARY KEY ("node_id")
      )
    `);
    // A node's requests since its last audit (audits are due every so many requests), and per-node time queries.
    await queryRunner.query(`CREATE INDEX "usage_records_node_started_idx" ON "usage_records" ("node_id", "started_at")`);
    // Whether a node is under review (an open audit or counter dispute about it), read per batch.
    await queryRunner.query(`CREATE INDEX "disputes_node_open_idx" ON "disputes" ("node_id", "kind") WHERE status = 'open'`);
    await queryRunner.query(`ALTER TABLE "node_audits" ADD "endpoint" text NOT NULL DEFAULT 'completions'`);
    await queryRunner.query(`ALTER TABLE "node_audits" ADD "stream" boolean NOT NULL DEFAULT false`);
    await queryRunner.query(`ALTER TABLE "node_audits" ALTER COLUMN "ok" DROP NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "node_audits" WHERE ok IS NULL`);
    await queryRunner.query(`ALTER TABLE "node_audits" ALTER COLUMN "ok" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "node_audits" DROP COLUMN "stream"`);
    await queryRunner.query(`ALTER TABLE "node_audits" DROP COLUMN "endpoint"`);
    await queryRunner.query(`DROP INDEX "public"."disputes_node_open_idx"`);
    await queryRunner.query(`DROP INDEX "public"."usage_records_node_started_idx"`);
    await queryRunner.query(`DROP TABLE "node_reconciliations"`);
  }
}
