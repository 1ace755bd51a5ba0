import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Ledger audits (issue 12): each audit's verdict is kept, so every process (and the ops console)
 * can show the last one, not only the worker that ran it.
 */
export class LedgerAudits1796400000100 implements MigrationInterface {
  name = 'LedgerAudits1796400000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "ledger_audits" (
          "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
          "reason" text NOT NULL,
          "sound" boolean NOT NULL,
          "posted_sum" bigint NOT NULL,
          "pending_sum" bigint NOT NULL,
          "mismatches" integer NOT NULL,
          "checked_at" TIMESTAMP WITH TIME ZONE NOT NULL,
          CONSTRAINT "PK_ledger_audits" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`CREATE INDEX "ledger_audits_checked_idx" ON "ledger_audits" ("checked_at")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ledger_audits_checked_idx"`);
    await queryRunner.query(`DROP TABLE "ledger_audits"`);
  }
}
