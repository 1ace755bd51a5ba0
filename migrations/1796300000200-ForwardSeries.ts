import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Forward series (issue 11, market-rules §6): per model class and cadence (monthly or weekly), how
 * many periods ahead the worker keeps listed and the terms it lists them with. Generated from the
 * entity, then tidied.
 */
export class ForwardSeries1796300000200 implements MigrationInterface {
  name = 'ForwardSeries1796300000200';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "forward_series" (
          "id" uuid NOT NULL DEFAULT gen_random_uuid(),
          "model_class_id" text NOT NULL,
          "cadence" text NOT NULL,
          "periods_ahead" integer NOT NULL,
          "initial_margin_bps" integer NOT NULL,
          "maintenance_margin_bps" integer NOT NULL,
          "bond_bps" integer NOT NULL,
          "tick_micro_usd_per_mtok" bigint NOT NULL,
          "lot_tokens" bigint NOT NULL,
          "maker_fee_bps" integer NOT NULL,
          "taker_fee_bps" integer NOT NULL,
          "collar_bps" integer NOT NULL,
          "active" boolean NOT NULL DEFAULT true,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "forward_series_collar_range" CHECK (collar_bps BETWEEN 0 AND 10000),
          CONSTRAINT "forward_series_fees_range" CHECK (maker_fee_bps BETWEEN 0 AND 1000 AND taker_fee_bps BETWEEN 0 AND 1000),
          CONSTRAINT "forward_series_grid_exact" CHECK (
              tick_micro_usd_per_mtok > 0 AND lot_tokens > 0 AND (tick_micro_usd_per_mtok * lot_tokens) % 1000000 = 0
          ),
          CONSTRAINT "forward_series_bond_range" CHECK (bond_bps BETWEEN 0 AND 10000),
          CONSTRAINT "forward_series_margin_range" CHECK (
              maintenance_margin_bps BETWEEN 1 AND initial_margin_bps AND initial_margin_bps <= 10000
          ),
          CONSTRAINT "forward_series_periods_ahead_range" CHECK (
              (cadence = 'monthly' AND periods_ahead BETWEEN 1 AND 12) OR (cadence = 'weekly' AND periods_ahead BETWEEN 1 AND 8)
          ),
          CONSTRAINT "forward_series_cadence_known" CHECK (cadence IN ('monthly', 'weekly')),
          CONSTRAINT "PK_16b29eb4b6efe0aded02d3648ce" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "forward_series_model_class_cadence_key" ON "forward_series" ("model_class_id", "cadence")
    `);
    await queryRunner.query(`
      ALTER TABLE "forward_series"
      ADD CONSTRAINT "FK_e7b0de42e2226398273084c090b" FOREIGN KEY ("model_class_id") REFERENCES "model_classes"("id") ON DELETE RESTRICT ON UPDATE NO ACTION
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "forward_series" DROP CONSTRAINT "FK_e7b0de42e2226398273084c090b"`);
    await queryRunner.query(`DROP INDEX "forward_series_model_class_cadence_key"`);
    await queryRunner.query(`DROP TABLE "forward_series"`);
  }
}
