import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Spot delivery and settlement (issue 5): a delivery per spot fill, the verified usage that draws
 * it down, and the settlement records an admin reads. Generated from the entities, then tidied.
 * CHECK constraints repeat the money rules: a delivery never pays out or refunds more than its
 * escrow, never takes a penalty beyond its bond, and never counts more tokens than it sold.
 */
export class Settlement1795723412048 implements MigrationInterface {
  name = 'Settlement1795723412048';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "deliveries" (
          "id" uuid NOT NULL DEFAULT gen_random_uuid(),
          "fill_id" text NOT NULL,
          "instrument" text NOT NULL,
          "model_class_id" text NOT NULL,
          "buyer_id" uuid NOT NULL,
          "provider_id" uuid NOT NULL,
          "quantity_tokens" bigint NOT NULL,
          "price_ticks" bigint NOT NULL,
          "notional_micros" bigint NOT NULL,
          "seller_fee_micros" bigint NOT NULL,
          "bond_micros" bigint NOT NULL,
          "window_start" TIMESTAMP WITH TIME ZONE NOT NULL,
          "window_end" TIMESTAMP WITH TIME ZONE NOT NULL,
          "delivered_tokens" bigint NOT NULL DEFAULT '0',
          "paid_tokens" bigint NOT NULL DEFAULT '0',
          "disputed_tokens" bigint NOT NULL DEFAULT '0',
          "paid_micros" bigint NOT NULL DEFAULT '0',
          "fee_paid_micros" bigint NOT NULL DEFAULT '0',
          "refunded_micros" bigint NOT NULL DEFAULT '0',
          "penalty_micros" bigint NOT NULL DEFAULT '0',
          "status" text NOT NULL DEFAULT 'open',
          "outcome" text,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          "closed_at" TIMESTAMP WITH TIME ZONE,
          CONSTRAINT "deliveries_escrow_not_overspent" CHECK (paid_micros + fee_paid_micros + refunded_micros <= notional_micros AND penalty_micros <= bond_micros),
          CONSTRAINT "deliveries_tokens_within_quantity" CHECK (paid_tokens >= 0 AND disputed_tokens >= 0 AND paid_tokens + disputed_tokens <= quantity_tokens),
          CONSTRAINT "deliveries_outcome_known" CHECK (outcome IS NULL OR outcome IN ('delivered', 'take_or_pay', 'breach')),
          CONSTRAINT "deliveries_status_known" CHECK (status IN ('open', 'closed')),
          CONSTRAINT "PK_a6ef225c5c5f0974e503bfb731f" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "deliveries_fill_key" ON "deliveries" ("fill_id")
    `);
    await queryRunner.query(`
      CREATE INDEX "deliveries_open_idx" ON "deliveries" ("window_end") WHERE status = 'open'
    `);
    await queryRunner.query(`
      CREATE INDEX "deliveries_provider_idx" ON "deliveries" ("provider_id", "created_at")
    `);
    await queryRunner.query(`
      CREATE INDEX "deliveries_buyer_idx" ON "deliveries" ("buyer_id", "created_at")
    `);
    await queryRunner.query(`
      CREATE TABLE "delivery_usage" (
          "id" text NOT NULL,
          "delivery_id" uuid NOT NULL,
          "tokens" bigint NOT NULL,
          "payout_id" bigint,
          "recorded_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "delivery_usage_tokens_positive" CHECK (tokens > 0),
          CONSTRAINT "PK_466084645d765acaa0b91b151e4" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "delivery_usage_unpaid_idx" ON "delivery_usage" ("delivery_id") WHERE payout_id IS NULL
    `);
    await queryRunner.query(`
      CREATE TABLE "settlements" (
          "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
          "key" text NOT NULL,
          "kind" text NOT NULL,
          "delivery_id" uuid NOT NULL,
          "buyer_id" uuid NOT NULL,
          "provider_id" uuid NOT NULL,
          "tokens" bigint NOT NULL DEFAULT '0',
          "amounts" jsonb NOT NULL DEFAULT '{}',
          "transfer_ids" text array NOT NULL DEFAULT '{}',
          "status" text NOT NULL,
          "attempts" integer NOT NULL DEFAULT '1',
          "error" text,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "settlements_status_known" CHECK (status IN ('done', 'failed')),
          CONSTRAINT "settlements_kind_known" CHECK (kind IN ('escrow', 'payout', 'close')),
          CONSTRAINT "PK_5f523ce152b84e818bff9467aab" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "settlements_key" ON "settlements" ("key")
    `);
    await queryRunner.query(`
      CREATE INDEX "settlements_kind_idx" ON "settlements" ("kind", "status", "id")
    `);
    await queryRunner.query(`
      CREATE INDEX "settlements_provider_idx" ON "settlements" ("provider_id", "id")
    `);
    await queryRunner.query(`
      CREATE INDEX "settlements_buyer_idx" ON "settlements" ("buyer_id", "id")
    `);
    await queryRunner.query(`
      CREATE INDEX "settlements_delivery_idx" ON "settlements" ("delivery_id", "id")
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DROP INDEX "public"."settlements_delivery_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."settlements_buyer_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."settlements_provider_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."settlements_kind_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."settlements_key"
    `);
    await queryRunner.query(`
      DROP TABLE "settlements"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."delivery_usage_unpaid_idx"
    `);
    await queryRunner.query(`
      DROP TABLE "delivery_usage"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."deliveries_buyer_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."deliveries_provider_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."deliveries_open_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."deliveries_fill_key"
    `);
    await queryRunner.query(`
      DROP TABLE "deliveries"
    `);
  }
}
