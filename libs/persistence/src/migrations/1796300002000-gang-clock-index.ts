import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The scheduler clears the gang clocks of jobs that stopped waiting on every pass (about once a
 * second), and workers check for a reserving gang before every single-job take. Only waiting gangs
 * have a clock set, so a partial index keeps both from scanning every training job ever run.
 */
export class GangClockIndex1796300002000 implements MigrationInterface {
  name = 'GangClockIndex1796300002000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS idx_training_jobs_gang_clocks ON training_jobs (status) WHERE gang_waiting_since IS NOT NULL OR gang_reserving_since IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS idx_training_jobs_gang_clocks`);
  }
}
