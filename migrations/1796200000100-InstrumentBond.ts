import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The provider's performance bond on a spot sell becomes a term of the instrument (market-rules
 * §4: default 10 % of notional), instead of a constant in the order path. Forwards have none.
 */
export class InstrumentBond1796200000100 implements MigrationInterface {
  name = 'InstrumentBond1796200000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "instruments" ADD "bond_bps" integer`);
    await queryRunner.query(`UPDATE "instruments" SET "bond_bps" = 1000 WHERE "kind" = 'spot'`);
    await queryRunner.query(
      `ALTER TABLE "instruments" ADD CONSTRAINT "instruments_bond_of_kind"
         CHECK ((kind = 'spot' AND bond_bps IS NOT NULL AND bond_bps BETWEEN 0 AND 10000) OR (kind = 'forward' AND bond_bps IS NULL))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "instruments" DROP CONSTRAINT "instruments_bond_of_kind"`);
    await queryRunner.query(`ALTER TABLE "instruments" DROP COLUMN "bond_bps"`);
  }
}
