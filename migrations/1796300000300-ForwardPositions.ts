import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Forwards (market-rules §6): positions and their margin per participant and contract, daily marks
 * (one per contract and day: the exactly-once key of variation margin), and margin events (calls,
 * cures, defaults, cuts). A `clearing` system account carries variation margin from losers to
 * winners within one commit: it is back at zero after every mark.
 */
export class ForwardPositions1796300000300 implements MigrationInterface {
  name = 'ForwardPositions1796300000300';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "accounts" DROP CONSTRAINT "accounts_kind_known"`);
    await queryRunner.query(
      `ALTER TABLE "accounts" ADD CONSTRAINT "accounts_kind_known"
         CHECK (kind IN ('available','held','escrow','margin','bond','external','fees','insurance','clearing'))`,
    );
    await queryRunner.query(`INSERT INTO "accounts" (participant_id, kind, flags) VALUES (NULL, 'clearing', 1) ON CONFLICT DO NOTHING`);
    await queryRunner.query(
      `CREATE TABLE "forward_positions" ("instrument" text NOT NULL, "participant_id" uuid NOT NULL, "lots" bigint NOT NULL,
         "cost_ticks" numeric(40,0) NOT NULL, "margin_basis_micros" bigint NOT NULL, "opened_seq" bigint NOT NULL,
         "margin_micros" bigint NOT NULL, "variation_micros" bigint NOT NULL, "in_call" boolean NOT NULL, "lots_at_mark" bigint NOT NULL,
         "traded_ticks_since_mark" numeric(40,0) NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
         CONSTRAINT "forward_positions_opened" CHECK ((lots = 0) = (opened_seq = 0)),
         CONSTRAINT "forward_positions_margin_not_negative" CHECK (margin_micros >= 0 AND margin_basis_micros >= 0),
         CONSTRAINT "PK_ada3ecff32c758fdd552c14b4a8" PRIMARY KEY ("instrument", "participant_id"))`,
    );
    await queryRunner.query(`CREATE INDEX "forward_positions_in_call_idx" ON "forward_positions" ("instrument") WHERE in_call`);
    await queryRunner.query(`CREATE INDEX "forward_positions_participant_idx" ON "forward_positions" ("participant_id")`);
    await queryRunner.query(
      `CREATE TABLE "forward_marks" ("instrument" text NOT NULL, "day" date NOT NULL, "price_ticks" bigint NOT NULL, "source" text NOT NULL,
         "previous_price_ticks" bigint, "final" boolean NOT NULL DEFAULT false, "inputs" jsonb NOT NULL,
         "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
         CONSTRAINT "forward_marks_price_positive" CHECK (price_ticks > 0),
         CONSTRAINT "forward_marks_source_known" CHECK (source IN ('trades', 'mid', 'previous', 'index', 'override')),
         CONSTRAINT "PK_ae52448140a87c1d51e962197f5" PRIMARY KEY ("instrument", "day"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "forward_margin_events" ("id" BIGSERIAL NOT NULL, "instrument" text NOT NULL, "participant_id" uuid NOT NULL,
         "event" text NOT NULL, "day" date, "equity_micros" bigint NOT NULL, "requirement_micros" bigint NOT NULL, "amount_micros" bigint,
         "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
         CONSTRAINT "forward_margin_events_kind_known" CHECK (event IN ('raised', 'cured', 'defaulted', 'cut')),
         CONSTRAINT "PK_fa6bbabdf0b1cdeec81ac2015a7" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "forward_margin_events_instrument_idx" ON "forward_margin_events" ("instrument", "id")`);
    await queryRunner.query(`CREATE INDEX "forward_margin_events_participant_idx" ON "forward_margin_events" ("participant_id", "id")`);
    for (const [table, name, column, target] of [
      ['forward_marks', 'FK_350b51af01ebcbf21f7b03d5f5d', 'instrument', 'instruments("symbol")'],
      ['forward_positions', 'FK_b338a6f45651f0fe6a357470f98', 'instrument', 'instruments("symbol")'],
      ['forward_positions', 'FK_7988a2a46a88babf352e9e09870', 'participant_id', 'participants("id")'],
      ['forward_margin_events', 'FK_2048579ce1b826380dfc3a89538', 'instrument', 'instruments("symbol")'],
      ['forward_margin_events', 'FK_fc73202ec74b946ebb41c99f91d', 'participant_id', 'participants("id")'],
    ]) {
      await queryRunner.query(`ALTER TABLE "${table}" ADD CONSTRAINT "${name}" FOREIGN KEY ("${column}") REFERENCES ${target} ON DELETE RESTRICT ON UPDATE NO ACTION`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "forward_margin_events"`);
    await queryRunner.query(`DROP TABLE "forward_marks"`);
    await queryRunner.query(`DROP TABLE "forward_positions"`);
    await queryRunner.query(`DELETE FROM "accounts" WHERE participant_id IS NULL AND kind = 'clearing'`);
    await queryRunner.query(`ALTER TABLE "accounts" DROP CONSTRAINT "accounts_kind_known"`);
    await queryRunner.query(
      `ALTER TABLE "accounts" ADD CONSTRAINT "accounts_kind_known"
         CHECK (kind IN ('available','held','escrow','margin','bond','external','fees','insurance'))`,
    );
  }
}
