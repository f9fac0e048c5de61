import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * While a waiting gang reserves, no worker takes a freed slot for a single-worker job (the
 * starvation guard): `gang_reserving_since` says since when a gang reserves. A migration of its
 * own because databases already carry GangScheduling1796300000000 without it.
 */
export class GangReservation1796300001000 implements MigrationInterface {
  name = 'GangReservation1796300001000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE training_jobs ADD COLUMN IF NOT EXISTS gang_reserving_since timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE training_jobs DROP COLUMN IF EXISTS gang_reserving_since`);
  }
}
