import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Metering ingest at fleet scale (issue 15, item 4; bench:metering):
 * - `usage_records` pages are filled to 45 %, so verification's update of each record (verdict,
 *   billable tokens, SLA, flags: no indexed column) fits on the record's own page and is a HOT
 *   update: at 100 % every verified record was written again into all four indexes (HOT 0.2 %).
 *   The table takes about twice the pages.
 * - `usage_records_batch_idx` goes: a batch's records are found by their request ids, which its
 *   stored answer lists (`accepted`), through the primary key; one index fewer per record stored.
 * - a batch's signed body (about 330 bytes a record) is compressed with lz4 rather than pglz.
 */
export class MeteringIngestAtScale1796800000200 implements MigrationInterface {
  name = 'MeteringIngestAtScale1796800000200';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "usage_records" SET (fillfactor = 45)`);
    await queryRunner.query(`DROP INDEX "public"."usage_records_batch_idx"`);
    await queryRunner.query(`ALTER TABLE "usage_batches" ALTER COLUMN "body" SET COMPRESSION lz4`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "usage_batches" ALTER COLUMN "body" SET COMPRESSION pglz`);
    await queryRunner.query(`CREATE INDEX "usage_records_batch_idx" ON "usage_records" ("node_id", "batch_id")`);
    await queryRunner.query(`ALTER TABLE "usage_records" RESET (fillfactor)`);
  }
}
