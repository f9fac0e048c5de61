import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Statistics of an uploaded dataset (per clinical column, images, the archive it came from), as
 * computed when the gateway validated it. Null for datasets registered by path, which the gateway
 * does not read.
 */
export class DatasetStatistics1795454650456 implements MigrationInterface {
  name = 'DatasetStatistics1795454650456';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE datasets ADD COLUMN statistics jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE datasets DROP COLUMN IF EXISTS statistics`);
  }
}
