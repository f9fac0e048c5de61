import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Hyper-parameter sweeps and their trials (issue #7). A trial's number is unique within its sweep so
 * that a driver restarted mid-pass cannot create the same trial twice.
 */
export class SweepsAndTrials1795460000000 implements MigrationInterface {
  name = 'SweepsAndTrials1795460000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sweeps (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name varchar(200) NOT NULL,
        description text NOT NULL DEFAULT '',
        config jsonb NOT NULL,
        status varchar(20) NOT NULL CHECK (status IN ('running', 'stopping', 'completed', 'stopped', 'failed')),
        trial_counts jsonb NOT NULL DEFAULT '{}'::jsonb,
        best_trial_id uuid,
        finish_reason varchar(40),
        error text,
        owner varchar(200) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
      )`);
    await q.query(`CREATE INDEX idx_sweeps_status ON sweeps (status)`);
    await q.query(`CREATE INDEX idx_sweeps_owner ON sweeps (owner)`);
    await q.query(`
      CREATE TABLE trials (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        sweep_id uuid NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
        number integer NOT NULL CHECK (number >= 0),
        state varchar(20) NOT NULL CHECK (state IN ('waiting', 'running', 'complete', 'pruned', 'failed', 'stopped')),
        params jsonb NOT NULL DEFAULT '{}'::jsonb,
        intermediate_values jsonb NOT NULL DEFAULT '{}'::jsonb,
        values jsonb,
        sampler_attrs jsonb NOT NULL DEFAULT '{}'::jsonb,
        pruner_decisions jsonb NOT NULL DEFAULT '[]'::jsonb,
        training_job_id uuid REFERENCES training_jobs (id) ON DELETE SET NULL,
        enqueued boolean NOT NULL DEFAULT false,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        duration double precision,
        CONSTRAINT uq_trials_sweep_number UNIQUE (sweep_id, number)
      )`);
    await q.query(`CREATE INDEX idx_trials_training_job_id ON trials (training_job_id)`);
    await q.query(`ALTER TABLE sweeps ADD CONSTRAINT fk_sweeps_best_trial FOREIGN KEY (best_trial_id) REFERENCES trials (id) ON DELETE SET NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sweeps DROP CONSTRAINT IF EXISTS fk_sweeps_best_trial`);
    await q.query(`DROP TABLE IF EXISTS trials`);
    await q.query(`DROP TABLE IF EXISTS sweeps`);
  }
}
