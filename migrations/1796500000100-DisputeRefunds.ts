import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Disputes resolved for the buyer move money (market-rules §7): their tokens leave the delivery
 * for good (`refunded_tokens`, counted against the quantity with the paid and disputed ones), and
 * the step is recorded among the settlements as kind `dispute`.
 */
export class DisputeRefunds1796500000100 implements MigrationInterface {
  name = 'DisputeRefunds1796500000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "deliveries" ADD "refunded_tokens" bigint NOT NULL DEFAULT '0'`);
    await queryRunner.query(`ALTER TABLE "deliveries" DROP CONSTRAINT "deliveries_tokens_within_quantity"`);
    await queryRunner.query(
      `ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_tokens_within_quantity"
         CHECK (paid_tokens >= 0 AND disputed_tokens >= 0 AND refunded_tokens >= 0 AND paid_tokens + disputed_tokens + refunded_tokens <= quantity_tokens)`,
    );
    await queryRunner.query(`ALTER TABLE "settlements" DROP CONSTRAINT "settlements_kind_known"`);
    await queryRunner.query(`ALTER TABLE "settlements" ADD CONSTRAINT "settlements_kind_known" CHECK (kind IN ('escrow', 'payout', 'close', 'dispute'))`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "settlements" DROP CONSTRAINT "settlements_kind_known"`);
    await queryRunner.query(`ALTER TABLE "settlements" ADD CONSTRAINT "settlements_kind_known" CHECK (kind IN ('escrow', 'payout', 'close'))`);
    await queryRunner.query(`ALTER TABLE "deliveries" DROP CONSTRAINT "deliveries_tokens_within_quantity"`);
    await queryRunner.query(
      `ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_tokens_within_quantity"
         CHECK (paid_tokens >= 0 AND disputed_tokens >= 0 AND paid_tokens + disputed_tokens <= quantity_tokens)`,
    );
    await queryRunner.query(`ALTER TABLE "deliveries" DROP COLUMN "refunded_tokens"`);
  }
}
