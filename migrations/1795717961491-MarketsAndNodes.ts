import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Markets and the node registry: model classes (what a token is of), instruments (one order book
 * each, spot or forward, with its price grid, fees, collar and delivery terms) and providers'
 * inference nodes. Generated from the entities, then tidied. The CHECK constraints repeat the
 * rules of src/markets/instrument-terms.ts and price.ts: a symbol is derived from its model class
 * and period, a grid makes notional a whole number of micro-USD, and a spot instrument carries
 * spot terms only, a forward forward terms only.
 */
export class MarketsAndNodes1795717961491 implements MigrationInterface {
  name = 'MarketsAndNodes1795717961491';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "model_classes" (
          "id" text NOT NULL,
          "tokenizer" text NOT NULL,
          "input_weight_bps" integer NOT NULL,
          "min_tokens_per_second" integer NOT NULL,
          "max_ttft_ms" integer NOT NULL,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "model_classes_sla_positive" CHECK (
              min_tokens_per_second > 0
              AND max_ttft_ms > 0
          ),
          CONSTRAINT "model_classes_input_weight_range" CHECK (
              input_weight_bps BETWEEN 0 AND 10000
          ),
          CONSTRAINT "model_classes_id_slug" CHECK (id ~ '^[a-z0-9][a-z0-9.-]{0,62}[a-z0-9]$'),
          CONSTRAINT "PK_dcc72534dad26e61b9a36aac88e" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "instruments" (
          "symbol" text NOT NULL,
          "kind" text NOT NULL,
          "model_class_id" text NOT NULL,
          "tick_micro_usd_per_mtok" bigint NOT NULL,
          "lot_tokens" bigint NOT NULL,
          "maker_fee_bps" integer NOT NULL,
          "taker_fee_bps" integer NOT NULL,
          "collar_bps" integer NOT NULL,
          "spot_window_seconds" integer,
          "delivery_period" text,
          "delivery_start" TIMESTAMP WITH TIME ZONE,
          "delivery_end" TIMESTAMP WITH TIME ZONE,
          "last_trade_at" TIMESTAMP WITH TIME ZONE,
          "status" text NOT NULL DEFAULT 'active',
          "halt_reason" text,
          "halted_at" TIMESTAMP WITH TIME ZONE,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "instruments_halt_recorded" CHECK (
              (status = 'halted') = (
                  halted_at IS NOT NULL
                  AND halt_reason IS NOT NULL
              )
          ),
          CONSTRAINT "instruments_terms_of_kind" CHECK (
              (
                  kind = 'spot'
                  AND spot_window_seconds IS NOT NULL
                  AND spot_window_seconds > 0
                  AND delivery_period IS NULL
                  AND delivery_start IS NULL
                  AND delivery_end IS NULL
                  AND last_trade_at IS NULL
              )
              OR (
                  kind = 'forward'
                  AND spot_window_seconds IS NULL
                  AND delivery_period IS NOT NULL
                  AND delivery_start IS NOT NULL
                  AND delivery_end IS NOT NULL
                  AND last_trade_at IS NOT NULL
                  AND delivery_start < delivery_end
                  AND last_trade_at <= delivery_start
              )
          ),
          CONSTRAINT "instruments_collar_range" CHECK (
              collar_bps BETWEEN 0 AND 10000
          ),
          CONSTRAINT "instruments_fees_range" CHECK (
              maker_fee_bps BETWEEN 0 AND 1000
              AND taker_fee_bps BETWEEN 0 AND 1000
          ),
          CONSTRAINT "instruments_grid_exact" CHECK (
              tick_micro_usd_per_mtok > 0
              AND lot_tokens > 0
              AND (tick_micro_usd_per_mtok * lot_tokens) % 1000000 = 0
          ),
          CONSTRAINT "instruments_symbol_derived" CHECK (
              symbol = upper(model_class_id) || '-' || coalesce(delivery_period, 'SPOT')
          ),
          CONSTRAINT "instruments_status_known" CHECK (status IN ('active', 'halted')),
          CONSTRAINT "instruments_kind_known" CHECK (kind IN ('spot', 'forward')),
          CONSTRAINT "PK_8bd2da22a1ed32dced42f6a4f24" PRIMARY KEY ("symbol")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "instruments_model_class_idx" ON "instruments" ("model_class_id", "kind")
    `);
    await queryRunner.query(`
      CREATE TABLE "inference_nodes" (
          "id" uuid NOT NULL DEFAULT gen_random_uuid(),
          "provider_id" uuid NOT NULL,
          "model_class_id" text NOT NULL,
          "name" text,
          "base_url" text NOT NULL,
          "metrics_url" text NOT NULL,
          "public_key" text NOT NULL,
          "tokens_per_second" integer NOT NULL,
          "status" text NOT NULL DEFAULT 'enabled',
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "inference_nodes_urls_http" CHECK (
              base_url ~ '^https?://'
              AND metrics_url ~ '^https?://'
          ),
          CONSTRAINT "inference_nodes_capacity_positive" CHECK (tokens_per_second > 0),
          CONSTRAINT "inference_nodes_status_known" CHECK (status IN ('enabled', 'disabled')),
          CONSTRAINT "PK_4f4e421229815e670557eef2a8e" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "inference_nodes_public_key_key" ON "inference_nodes" ("public_key")
    `);
    await queryRunner.query(`
      CREATE INDEX "inference_nodes_capacity_idx" ON "inference_nodes" ("provider_id", "model_class_id")
      WHERE status = 'enabled'
    `);
    await queryRunner.query(`
      CREATE INDEX "inference_nodes_provider_idx" ON "inference_nodes" ("provider_id", "created_at")
    `);
    await queryRunner.query(`
      ALTER TABLE "instruments"
      ADD CONSTRAINT "FK_2a209da5d99c4e06e903d773840" FOREIGN KEY ("model_class_id") REFERENCES "model_classes"("id") ON DELETE RESTRICT ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "inference_nodes"
      ADD CONSTRAINT "FK_2a380f5a9fe1b3c6a645082a571" FOREIGN KEY ("provider_id") REFERENCES "participants"("id") ON DELETE RESTRICT ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "inference_nodes"
      ADD CONSTRAINT "FK_4fee5524cccf1df4baa525d0b34" FOREIGN KEY ("model_class_id") REFERENCES "model_classes"("id") ON DELETE RESTRICT ON UPDATE NO ACTION
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "inference_nodes" DROP CONSTRAINT "FK_4fee5524cccf1df4baa525d0b34"
    `);
    await queryRunner.query(`
      ALTER TABLE "inference_nodes" DROP CONSTRAINT "FK_2a380f5a9fe1b3c6a645082a571"
    `);
    await queryRunner.query(`
      ALTER TABLE "instruments" DROP CONSTRAINT "FK_2a209da5d99c4e06e903d773840"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."inference_nodes_provider_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."inference_nodes_capacity_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."inference_nodes_public_key_key"
    `);
    await queryRunner.query(`
      DROP TABLE "inference_nodes"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."instruments_model_class_idx"
    `);
    await queryRunner.query(`
      DROP TABLE "instruments"
    `);
    await queryRunner.query(`
      DROP TABLE "model_classes"
    `);
  }
}
