import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The exchange's fee account in 16 shards (issue 15, item 5; docs/ledger.md "The fee account's
 * shards"). Every book commit and every settlement batch credited the one `fees` row, so each
 * locked it: batches of unrelated books and deliveries queued on that one row lock. Fees are now
 * credited to one of 16 `fees` accounts (shard 0 is the existing one); the exchange's fees are
 * their sum. Only `fees` has shards: it is only ever credited, so no shard can be overdrawn.
 */
export class FeeAccountShards1797000000100 implements MigrationInterface {
  name = 'FeeAccountShards1797000000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "accounts" ADD "shard" smallint NOT NULL DEFAULT 0`);
    await queryRunner.query(
      `ALTER TABLE "accounts" ADD CONSTRAINT "accounts_shard_of_fees" CHECK (shard = 0 OR (shard BETWEEN 1 AND 1023 AND kind = 'fees' AND participant_id IS NULL))`,
    );
    await queryRunner.query(`DROP INDEX "public"."accounts_system_kind_key"`);
    await queryRunner.query(`CREATE UNIQUE INDEX "accounts_system_kind_key" ON "accounts" ("kind", "shard") WHERE participant_id IS NULL`);
    await queryRunner.query(`
      INSERT INTO "accounts" ("participant_id", "kind", "flags", "shard")
      SELECT NULL, 'fees', a.flags, s FROM "accounts" a, generate_series(1, 15) AS s
       WHERE a.participant_id IS NULL AND a.kind = 'fees' AND a.shard = 0`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // Fees credited to a shard would be lost with it: move them back to shard 0 first, by hand.
    const [{ n }] = await queryRunner.query(`SELECT count(*)::int AS n FROM "accounts" WHERE shard > 0 AND (credits_posted > 0 OR credits_pending > 0)`);
    if (n > 0) throw new Error(`${n} fee account shards hold fees: transfer them to shard 0 before reverting FeeAccountShards`);
    await queryRunner.query(`DELETE FROM "accounts" WHERE shard > 0`);
    await queryRunner.query(`DROP INDEX "public"."accounts_system_kind_key"`);
    await queryRunner.query(`CREATE UNIQUE INDEX "accounts_system_kind_key" ON "accounts" ("kind") WHERE participant_id IS NULL`);
    await queryRunner.query(`ALTER TABLE "accounts" DROP CONSTRAINT "accounts_shard_of_fees"`);
    await queryRunner.query(`ALTER TABLE "accounts" DROP COLUMN "shard"`);
  }
}
