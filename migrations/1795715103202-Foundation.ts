import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The foundation: participants and their API keys, the double-entry ledger (accounts with running
 * totals, insert-only transfers), deposits and withdrawals, idempotency keys, the job outbox and
 * the audit trail. Generated from the entities, then tidied: CHECK constraints repeat the ledger's
 * rules so the database itself refuses an overdraft, and the system accounts are seeded.
 */
export class Foundation1795715103202 implements MigrationInterface {
  name = 'Foundation1795715103202';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "audit_events" (
          "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
          "actor_id" uuid,
          "action" text NOT NULL,
          "subject_type" text NOT NULL,
          "subject_id" text NOT NULL,
          "details" jsonb NOT NULL DEFAULT '{}'::jsonb,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "PK_910f64d901a5c3e9878f0d4a407" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "audit_events_subject_idx" ON "audit_events" ("subject_type", "subject_id")
    `);
    await queryRunner.query(`
      CREATE TABLE "participants" (
          "id" uuid NOT NULL DEFAULT gen_random_uuid(),
          "name" text NOT NULL,
          "roles" text array NOT NULL,
          "status" text NOT NULL DEFAULT 'active',
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "participants_status_known" CHECK (status IN ('active', 'suspended')),
          CONSTRAINT "participants_roles_known" CHECK (
              roles <@ ARRAY ['provider','buyer','admin']::text []
              AND cardinality(roles) > 0
          ),
          CONSTRAINT "PK_1cda06c31eec1c95b3365a0283f" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "deposits" (
          "id" uuid NOT NULL DEFAULT gen_random_uuid(),
          "participant_id" uuid NOT NULL,
          "amount" bigint NOT NULL,
          "reference" text,
          "recorded_by" uuid NOT NULL,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "PK_f49ba0cd446eaf7abb4953385d9" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "deposits_participant_idx" ON "deposits" ("participant_id", "created_at")
    `);
    await queryRunner.query(`
      CREATE TABLE "withdrawals" (
          "id" uuid NOT NULL DEFAULT gen_random_uuid(),
          "participant_id" uuid NOT NULL,
          "amount" bigint NOT NULL,
          "status" text NOT NULL DEFAULT 'pending',
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          "resolved_at" TIMESTAMP WITH TIME ZONE,
          "resolved_by" uuid,
          "note" text,
          CONSTRAINT "withdrawals_status_known" CHECK (status IN ('pending', 'paid', 'rejected')),
          CONSTRAINT "PK_9871ec481baa7755f8bd8b7c7e9" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "withdrawals_status_idx" ON "withdrawals" ("status", "created_at")
    `);
    await queryRunner.query(`
      CREATE INDEX "withdrawals_participant_idx" ON "withdrawals" ("participant_id", "created_at")
    `);
    await queryRunner.query(`
      CREATE TABLE "idempotency_keys" (
          "participant_id" uuid NOT NULL,
          "key" text NOT NULL,
          "request_hash" bytea NOT NULL,
          "status_code" integer NOT NULL,
          "response_body" jsonb NOT NULL,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "PK_5137d287d11d6d8f28d051269a9" PRIMARY KEY ("participant_id", "key")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "outbox" (
          "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
          "job_name" text NOT NULL,
          "job_key" text NOT NULL,
          "payload" jsonb NOT NULL,
          "status" text NOT NULL DEFAULT 'pending',
          "dispatch_after" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          "dispatch_count" integer NOT NULL DEFAULT '0',
          "attempts" integer NOT NULL DEFAULT '0',
          "last_error" text,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          "completed_at" TIMESTAMP WITH TIME ZONE,
          CONSTRAINT "outbox_status_known" CHECK (status IN ('pending', 'done', 'failed')),
          CONSTRAINT "PK_340ab539f309f03bdaa14aa7649" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "outbox_due_idx" ON "outbox" ("dispatch_after")
      WHERE status = 'pending'
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "outbox_job_key" ON "outbox" ("job_name", "job_key")
    `);
    await queryRunner.query(`
      CREATE TABLE "accounts" (
          "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
          "participant_id" uuid,
          "kind" text NOT NULL,
          "flags" integer NOT NULL DEFAULT '0',
          "debits_pending" bigint NOT NULL DEFAULT '0',
          "debits_posted" bigint NOT NULL DEFAULT '0',
          "credits_pending" bigint NOT NULL DEFAULT '0',
          "credits_posted" bigint NOT NULL DEFAULT '0',
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "accounts_kind_known" CHECK (
              kind IN (
                  'available',
                  'held',
                  'escrow',
                  'margin',
                  'bond',
                  'external',
                  'fees',
                  'insurance'
              )
          ),
          CONSTRAINT "accounts_credits_within_debits" CHECK (
              (flags & 2) = 0
              OR credits_posted + credits_pending <= debits_posted
          ),
          CONSTRAINT "accounts_debits_within_credits" CHECK (
              (flags & 1) = 0
              OR debits_posted + debits_pending <= credits_posted
          ),
          CONSTRAINT "accounts_totals_non_negative" CHECK (
              debits_pending >= 0
              AND debits_posted >= 0
              AND credits_pending >= 0
              AND credits_posted >= 0
          ),
          CONSTRAINT "PK_5a7a02c20412299d198e097a8fe" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "accounts_system_kind_key" ON "accounts" ("kind")
      WHERE participant_id IS NULL
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "accounts_participant_kind_key" ON "accounts" ("participant_id", "kind")
      WHERE participant_id IS NOT NULL
    `);
    await queryRunner.query(`
      CREATE TABLE "transfers" (
          "id" text NOT NULL,
          "seq" BIGSERIAL NOT NULL,
          "debit_account_id" bigint NOT NULL,
          "credit_account_id" bigint NOT NULL,
          "amount" bigint NOT NULL,
          "pending_id" text,
          "flags" integer NOT NULL,
          "code" text NOT NULL,
          "ref" text,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "transfers_accounts_differ" CHECK (debit_account_id <> credit_account_id),
          CONSTRAINT "transfers_amount_positive" CHECK (amount > 0),
          CONSTRAINT "PK_f712e908b465e0085b4408cabc3" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "transfers_credit_account_idx" ON "transfers" ("credit_account_id", "seq")
    `);
    await queryRunner.query(`
      CREATE INDEX "transfers_debit_account_idx" ON "transfers" ("debit_account_id", "seq")
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "transfers_pending_id_key" ON "transfers" ("pending_id")
      WHERE pending_id IS NOT NULL
    `);
    await queryRunner.query(`
      CREATE TABLE "api_keys" (
          "id" uuid NOT NULL DEFAULT gen_random_uuid(),
          "participant_id" uuid NOT NULL,
          "prefix" text NOT NULL,
          "key_hash" bytea NOT NULL,
          "label" text,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          "revoked_at" TIMESTAMP WITH TIME ZONE,
          CONSTRAINT "PK_5c8a79801b44bd27b79228e1dad" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "api_keys_hash_key" ON "api_keys" ("key_hash")
    `);
    await queryRunner.query(`
      CREATE INDEX "api_keys_participant_idx" ON "api_keys" ("participant_id")
    `);
    await queryRunner.query(`
      ALTER TABLE "deposits"
      ADD CONSTRAINT "FK_305be536fb16ed49020950e92a9" FOREIGN KEY ("participant_id") REFERENCES "participants"("id") ON DELETE RESTRICT ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "withdrawals"
      ADD CONSTRAINT "FK_9f23b5fdc4745bdca4c695d73d4" FOREIGN KEY ("participant_id") REFERENCES "participants"("id") ON DELETE RESTRICT ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "accounts"
      ADD CONSTRAINT "FK_c21176d6c84380c43079a11fa3d" FOREIGN KEY ("participant_id") REFERENCES "participants"("id") ON DELETE RESTRICT ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "api_keys"
      ADD CONSTRAINT "FK_6705d748b6d1394863dd5d4a020" FOREIGN KEY ("participant_id") REFERENCES "participants"("id") ON DELETE RESTRICT ON UPDATE NO ACTION
    `);

    // The exchange's own accounts. `external` is the outside world: it goes negative as cash
    // comes in, so every account always sums to zero. Fees and insurance can never be overdrawn.
    await queryRunner.query(`
      INSERT INTO "accounts" ("participant_id", "kind", "flags")
      VALUES (NULL, 'external', 0), (NULL, 'fees', 1), (NULL, 'insurance', 1)
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "api_keys" DROP CONSTRAINT "FK_6705d748b6d1394863dd5d4a020"
    `);
    await queryRunner.query(`
      ALTER TABLE "accounts" DROP CONSTRAINT "FK_c21176d6c84380c43079a11fa3d"
    `);
    await queryRunner.query(`
      ALTER TABLE "withdrawals" DROP CONSTRAINT "FK_9f23b5fdc4745bdca4c695d73d4"
    `);
    await queryRunner.query(`
      ALTER TABLE "deposits" DROP CONSTRAINT "FK_305be536fb16ed49020950e92a9"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."api_keys_participant_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."api_keys_hash_key"
    `);
    await queryRunner.query(`
      DROP TABLE "api_keys"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."transfers_pending_id_key"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."transfers_debit_account_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."transfers_credit_account_idx"
    `);
    await queryRunner.query(`
      DROP TABLE "transfers"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."accounts_participant_kind_key"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."accounts_system_kind_key"
    `);
    await queryRunner.query(`
      DROP TABLE "accounts"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."outbox_job_key"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."outbox_due_idx"
    `);
    await queryRunner.query(`
      DROP TABLE "outbox"
    `);
    await queryRunner.query(`
      DROP TABLE "idempotency_keys"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."withdrawals_participant_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."withdrawals_status_idx"
    `);
    await queryRunner.query(`
      DROP TABLE "withdrawals"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."deposits_participant_idx"
    `);
    await queryRunner.query(`
      DROP TABLE "deposits"
    `);
    await queryRunner.query(`
      DROP TABLE "participants"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."audit_events_subject_idx"
    `);
    await queryRunner.query(`
      DROP TABLE "audit_events"
    `);
  }
}
