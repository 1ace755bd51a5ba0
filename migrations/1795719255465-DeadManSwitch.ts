import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Dead-man switches of trading bots: a deadline per participant after which its orders are cancelled. */
export class DeadManSwitch1795719255465 implements MigrationInterface {
  name = 'DeadManSwitch1795719255465';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "dead_man_switches" (
          "participant_id" uuid NOT NULL,
          "deadline" TIMESTAMP WITH TIME ZONE NOT NULL,
          CONSTRAINT "PK_1a658f7cfecf09118a5ec6cea5f" PRIMARY KEY ("participant_id")
      )
    `);
    await queryRunner.query(`
      ALTER TABLE "dead_man_switches"
      ADD CONSTRAINT "FK_1a658f7cfecf09118a5ec6cea5f" FOREIGN KEY ("participant_id") REFERENCES "participants"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "dead_man_switches" DROP CONSTRAINT "FK_1a658f7cfecf09118a5ec6cea5f"
    `);
    await queryRunner.query(`
      DROP TABLE "dead_man_switches"
    `);
  }
}
