import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Gang scheduling of multi-worker training jobs (issue #6). `worker_slots` is the registry of
 * gpu-worker slots (one per GPU) with a heartbeat: the scheduler admits a gang of N ranks onto N
 * idle slots in one transaction. `training_job_ranks` is the rendezvous record of a job's current
 * gang: which worker and slot runs each rank, the address each rank listens on, the job's
 * collective token and the checkpoint every rank resumes from.
 */
export class GangScheduling1796300000000 implements MigrationInterface {
  name = 'GangScheduling1796300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE worker_slots (
        worker_id varchar(200) NOT NULL,
        slot integer NOT NULL CHECK (slot >= 0),
        host varchar(255) NOT NULL,
        state varchar(20) NOT NULL CHECK (state IN ('idle', 'single', 'reserved', 'gang')),
        job_id uuid,
        rank integer,
        attempt integer,
        since timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (worker_id, slot),
        CONSTRAINT ck_worker_slots_job CHECK ((state = 'idle') = (job_id IS NULL)),
        CONSTRAINT ck_worker_slots_rank CHECK ((state = 'gang') = (rank IS NOT NULL AND attempt IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX idx_worker_slots_job_id ON worker_slots (job_id)`);
    await q.query(`
      CREATE TABLE training_job_ranks (
        job_id uuid NOT NULL REFERENCES training_jobs (id) ON DELETE CASCADE,
        rank integer NOT NULL CHECK (rank >= 0),
        attempt integer NOT NULL,
        world_size integer NOT NULL CHECK (world_size > rank),
        worker_id varchar(200) NOT NULL,
        slot integer NOT NULL,
        host varchar(255) NOT NULL,
        port integer CHECK (port BETWEEN 1 AND 65535),
        token varchar(128) NOT NULL,
        resume_checkpoint_id uuid REFERENCES training_checkpoints (id) ON DELETE SET NULL,
        status varchar(20) NOT NULL CHECK (status IN ('assigned', 'listening', 'training', 'finished', 'failed')),
        samples_per_second double precision,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (job_id, rank)
      )`);
    // Gang bookkeeping on the job: when it began waiting for workers (the starvation guard's clock),
    // why it is still waiting (shown over REST), and how often a broken gang was started again.
    await q.query(`ALTER TABLE training_jobs ADD COLUMN gang_waiting_since timestamptz`);
    await q.query(`ALTER TABLE training_jobs ADD COLUMN scheduling_note text`);
    await q.query(`ALTER TABLE training_jobs ADD COLUMN restarts integer NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE training_jobs DROP COLUMN IF EXISTS restarts`);
    await q.query(`ALTER TABLE training_jobs DROP COLUMN IF EXISTS scheduling_note`);
    await q.query(`ALTER TABLE training_jobs DROP COLUMN IF EXISTS gang_waiting_since`);
    await q.query(`DROP TABLE IF EXISTS training_job_ranks`);
    await q.query(`DROP TABLE IF EXISTS worker_slots`);
  }
}
