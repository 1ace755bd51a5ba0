import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Delivery keys (market-rules §5): the Ed25519 keys tokex signs them with, and a record of each
 * key issued so it can be listed and revoked. Generated from the entities, then tidied. No
 * foreign key to deliveries: that table belongs to the deliveries module and a key row is only
 * ever looked up by its id or its delivery.
 */
export class DeliveryKeys1796100000100 implements MigrationInterface {
  name = 'DeliveryKeys1796100000100';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "signing_keys" (
          "kid" text NOT NULL,
          "algorithm" text NOT NULL DEFAULT 'EdDSA',
          "public_jwk" jsonb NOT NULL,
          "private_pkcs8" text NOT NULL,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          "retired_at" TIMESTAMP WITH TIME ZONE,
          CONSTRAINT "PK_13362ac3e792c69417e1a53d355" PRIMARY KEY ("kid")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "delivery_keys" (
          "id" uuid NOT NULL,
          "delivery_id" uuid NOT NULL,
          "buyer_id" uuid NOT NULL,
          "provider_id" uuid NOT NULL,
          "kind" text NOT NULL,
          "signing_key_id" text NOT NULL,
          "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
          "revoked_at" TIMESTAMP WITH TIME ZONE,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "delivery_keys_kind_known" CHECK (kind IN ('buyer', 'audit')),
          CONSTRAINT "PK_16c43ff3a3298d2b7e845819860" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "delivery_keys_delivery_idx" ON "delivery_keys" ("delivery_id")
    `);
    // The revocation list nodes poll: revoked keys not yet expired.
    await queryRunner.query(`
      CREATE INDEX "delivery_keys_revoked_idx" ON "delivery_keys" ("expires_at")
      WHERE revoked_at IS NOT NULL
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DROP INDEX "public"."delivery_keys_revoked_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."delivery_keys_delivery_idx"
    `);
    await queryRunner.query(`
      DROP TABLE "delivery_keys"
    `);
    await queryRunner.query(`
      DROP TABLE "signing_keys"
    `);
  }
}
