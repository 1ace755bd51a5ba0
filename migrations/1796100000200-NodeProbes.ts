import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Health probes of inference nodes: the evidence of a provider's down time in a delivery window. */
export class NodeProbes1796100000200 implements MigrationInterface {
  name = 'NodeProbes1796100000200';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "node_probes" (
          "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
          "node_id" uuid NOT NULL,
          "provider_id" uuid NOT NULL,
          "model_class_id" text NOT NULL,
          "probed_at" TIMESTAMP WITH TIME ZONE NOT NULL,
          "ok" boolean NOT NULL,
          "status_code" integer,
          "latency_ms" integer,
          "error" text,
          CONSTRAINT "PK_40aeb62426d727b1063ff4701b8" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "node_probes_provider_idx" ON "node_probes" ("provider_id", "model_class_id", "probed_at")
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DROP INDEX "public"."node_probes_provider_idx"
    `);
    await queryRunner.query(`
      DROP TABLE "node_probes"
    `);
  }
}
