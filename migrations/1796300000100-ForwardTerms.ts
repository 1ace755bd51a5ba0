import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Forward contract terms (issue 11, market-rules §6): initial and maintenance margin rates on
 * every forward, and the performance bond becomes a term of both kinds (on a forward, the short's
 * bond on each delivery the contract expires into). Forwards already listed take the defaults:
 * 20 % initial, 10 % maintenance, 10 % bond.
 */
export class ForwardTerms1796300000100 implements MigrationInterface {
  name = 'ForwardTerms1796300000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "instruments" ADD "initial_margin_bps" integer`);
    await queryRunner.query(`ALTER TABLE "instruments" ADD "maintenance_margin_bps" integer`);
    await queryRunner.query(`ALTER TABLE "instruments" DROP CONSTRAINT "instruments_bond_of_kind"`);
    await queryRunner.query(
      `UPDATE "instruments" SET "bond_bps" = 1000, "initial_margin_bps" = 2000, "maintenance_margin_bps" = 1000 WHERE "kind" = 'forward'`,
    );
    await queryRunner.query(`ALTER TABLE "instruments" ALTER COLUMN "bond_bps" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "instruments" ADD CONSTRAINT "instruments_bond_range" CHECK (bond_bps BETWEEN 0 AND 10000)`);
    await queryRunner.query(
      `ALTER TABLE "instruments" ADD CONSTRAINT "instruments_margin_of_kind" CHECK (
         (kind = 'spot' AND initial_margin_bps IS NULL AND maintenance_margin_bps IS NULL)
         OR (kind = 'forward' AND initial_margin_bps IS NOT NULL AND maintenance_margin_bps IS NOT NULL
           AND maintenance_margin_bps BETWEEN 1 AND initial_margin_bps AND initial_margin_bps <= 10000))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "instruments" DROP CONSTRAINT "instruments_margin_of_kind"`);
    await queryRunner.query(`ALTER TABLE "instruments" DROP CONSTRAINT "instruments_bond_range"`);
    await queryRunner.query(`ALTER TABLE "instruments" ALTER COLUMN "bond_bps" DROP NOT NULL`);
    await queryRunner.query(`UPDATE "instruments" SET "bond_bps" = NULL WHERE "kind" = 'forward'`);
    await queryRunner.query(
      `ALTER TABLE "instruments" ADD CONSTRAINT "instruments_bond_of_kind"
         CHECK ((kind = 'spot' AND bond_bps IS NOT NULL AND bond_bps BETWEEN 0 AND 10000) OR (kind = 'forward' AND bond_bps IS NULL))`,
    );
    await queryRunner.query(`ALTER TABLE "instruments" DROP COLUMN "maintenance_margin_bps"`);
    await queryRunner.query(`ALTER TABLE "instruments" DROP COLUMN "initial_margin_bps"`);
  }
}
