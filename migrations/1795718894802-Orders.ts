import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Order entry: accepted orders with their holds and fee state, fills, and each instrument's book
 * position (last command sequence, collar reference price). Generated from the entities, then
 * tidied; the order id sequence is added by hand.
 */
export class Orders1795718894802 implements MigrationInterface {
  name = 'Orders1795718894802';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // Order ids: one sequence for every instrument. Each writer takes ids in order, so ids rise
    // within every book, as the matching engine requires.
    await queryRunner.query(`
      CREATE SEQUENCE "order_ids" AS bigint
    `);
    await queryRunner.query(`
      CREATE TABLE "fills" (
          "id" text NOT NULL,
          "instrument" text NOT NULL,
          "seq" bigint NOT NULL,
          "maker_order_id" bigint NOT NULL,
          "taker_order_id" bigint NOT NULL,
          "buyer_id" uuid NOT NULL,
          "seller_id" uuid NOT NULL,
          "taker_side" text NOT NULL,
          "price_ticks" bigint NOT NULL,
          "quantity_lots" bigint NOT NULL,
          "notional_micros" bigint NOT NULL,
          "buyer_fee_micros" bigint NOT NULL,
          "seller_fee_micros" bigint NOT NULL,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "PK_4cc862cbabbb5c3e5c3a381f70f" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "fills_seller_idx" ON "fills" ("seller_id", "created_at")
    `);
    await queryRunner.query(`
      CREATE INDEX "fills_buyer_idx" ON "fills" ("buyer_id", "created_at")
    `);
    await queryRunner.query(`
      CREATE INDEX "fills_instrument_idx" ON "fills" ("instrument", "seq")
    `);
    await queryRunner.query(`
      CREATE TABLE "instrument_books" (
          "instrument" text NOT NULL,
          "last_seq" bigint NOT NULL DEFAULT '0',
          "reference_price_ticks" bigint,
          "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "PK_1406f998efb3ba15d6a11837298" PRIMARY KEY ("instrument")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "orders" (
          "id" bigint NOT NULL,
          "participant_id" uuid NOT NULL,
          "instrument" text NOT NULL,
          "client_order_id" text,
          "side" text NOT NULL,
          "type" text NOT NULL,
          "time_in_force" text NOT NULL,
          "price_ticks" bigint NOT NULL,
          "quantity_lots" bigint NOT NULL,
          "filled_lots" bigint NOT NULL DEFAULT '0',
          "status" text NOT NULL DEFAULT 'open',
          "close_reason" text,
          "post_only" boolean NOT NULL DEFAULT false,
          "self_trade_prevention" text NOT NULL,
          "expires_at" TIMESTAMP WITH TIME ZONE,
          "hold_micros" bigint NOT NULL DEFAULT '0',
          "taker_notional_micros" bigint NOT NULL DEFAULT '0',
          "maker_notional_micros" bigint NOT NULL DEFAULT '0',
          "fees_micros" bigint NOT NULL DEFAULT '0',
          "accepted_seq" bigint NOT NULL,
          "priority_seq" bigint NOT NULL,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "orders_money_non_negative" CHECK (
              hold_micros >= 0
              AND taker_notional_micros >= 0
              AND maker_notional_micros >= 0
              AND fees_micros >= 0
          ),
          CONSTRAINT "orders_quantities" CHECK (
              quantity_lots > 0
              AND filled_lots >= 0
              AND filled_lots <= quantity_lots
          ),
          CONSTRAINT "orders_tif_known" CHECK (time_in_force IN ('GTC', 'IOC', 'FOK', 'GTD')),
          CONSTRAINT "orders_type_known" CHECK (type IN ('limit', 'market')),
          CONSTRAINT "orders_side_known" CHECK (side IN ('buy', 'sell')),
          CONSTRAINT "orders_status_known" CHECK (
              status IN ('open', 'filled', 'cancelled', 'expired')
          ),
          CONSTRAINT "PK_710e2d4957aa5878dfe94e4ac2f" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "orders_participant_idx" ON "orders" ("participant_id", "id")
    `);
    await queryRunner.query(`
      CREATE INDEX "orders_open_idx" ON "orders" (
          "instrument",
          "side",
          "price_ticks",
          "priority_seq"
      )
      WHERE status = 'open'
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "orders_client_order_id_key" ON "orders" ("participant_id", "client_order_id")
      WHERE client_order_id IS NOT NULL
    `);
    await queryRunner.query(`
      ALTER TABLE "instrument_books"
      ADD CONSTRAINT "FK_1406f998efb3ba15d6a11837298" FOREIGN KEY ("instrument") REFERENCES "instruments"("symbol") ON DELETE RESTRICT ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "orders"
      ADD CONSTRAINT "FK_803ceb0ba7e6c88d1d97becf134" FOREIGN KEY ("participant_id") REFERENCES "participants"("id") ON DELETE RESTRICT ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "orders"
      ADD CONSTRAINT "FK_38e219646ab413e4ec17aee3628" FOREIGN KEY ("instrument") REFERENCES "instruments"("symbol") ON DELETE RESTRICT ON UPDATE NO ACTION
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "orders" DROP CONSTRAINT "FK_38e219646ab413e4ec17aee3628"
    `);
    await queryRunner.query(`
      ALTER TABLE "orders" DROP CONSTRAINT "FK_803ceb0ba7e6c88d1d97becf134"
    `);
    await queryRunner.query(`
      ALTER TABLE "instrument_books" DROP CONSTRAINT "FK_1406f998efb3ba15d6a11837298"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."orders_client_order_id_key"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."orders_open_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."orders_participant_idx"
    `);
    await queryRunner.query(`
      DROP TABLE "orders"
    `);
    await queryRunner.query(`
      DROP TABLE "instrument_books"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."fills_instrument_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."fills_buyer_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."fills_seller_idx"
    `);
    await queryRunner.query(`
      DROP TABLE "fills"
    `);
    await queryRunner.query(`
      DROP SEQUENCE "order_ids"
    `);
  }
}
