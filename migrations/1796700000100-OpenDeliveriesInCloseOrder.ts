import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Settlement sweeps lock open deliveries in (window_end, id) order, 200 at a time: with the index
 * in that order, a sweep reads its 200 in order and stops, where the index on window_end alone
 * made it fetch and sort every due delivery first (issue 15, item 5; bench:settlement).
 */
export class OpenDeliveriesInCloseOrder1796700000100 implements MigrationInterface {
  name = 'OpenDeliveriesInCloseOrder1796700000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "deliveries_open_window_idx" ON "deliveries" ("window_end", "id") WHERE status = 'open'`);
    await queryRunner.query(`DROP INDEX "public"."deliveries_open_idx"`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "deliveries_open_idx" ON "deliveries" ("window_end") WHERE status = 'open'`);
    await queryRunner.query(`DROP INDEX "public"."deliveries_open_window_idx"`);
  }
}
