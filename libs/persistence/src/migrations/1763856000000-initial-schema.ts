import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1763856000000 implements MigrationInterface {
  name = 'InitialSchema1763856000000';

  async up(q: QueryRunner): Promise<void> {
    // gen_random_uuid() is built in from Postgres 13.
    await q.query(`
      CREATE TABLE workflows (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name varchar(200) NOT NULL,
        description text NOT NULL DEFAULT '',
        nodes jsonb NOT NULL,
        edges jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        created_by varchar(200) NOT NULL,
        execution_count integer NOT NULL DEFAULT 0,
        last_executed_at timestamptz
      )`);
    await q.query(`CREATE INDEX idx_workflows_name ON workflows (name)`);
    await q.query(`CREATE INDEX idx_workflows_created_by ON workflows (created_by)`);

    await q.query(`
      CREATE TABLE workflow_executions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        workflow_id uuid NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
        status varchar(20) NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
        result jsonb,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        completed_at timestamptz,
        duration double precision
      )`);
    await q.query(`CREATE INDEX idx_workflow_executions_workflow_id ON workflow_executions (workflow_id)`);
    await q.query(`CREATE INDEX idx_workflow_executions_status ON workflow_executions (status)`);

    await q.query(`
      CREATE TABLE datasets (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name varchar(200) NOT NULL,
        description text NOT NULL DEFAULT '',
        data_path text NOT NULL,
        num_samples integer NOT NULL CHECK (num_samples >= 0),
        num_classes integer NOT NULL CHECK (num_classes >= 1),
        train_samples integer NOT NULL DEFAULT 0,
        val_samples integer NOT NULL DEFAULT 0,
        test_samples integer NOT NULL DEFAULT 0,
        class_distribution jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by varchar(200) NOT NULL,
        tags jsonb NOT NULL DEFAULT '[]'::jsonb
      )`);
    await q.query(`CREATE INDEX idx_datasets_name ON datasets (name)`);

    await q.query(`
      CREATE TABLE training_jobs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name varchar(200) NOT NULL,
        description text NOT NULL DEFAULT '',
        model_config jsonb NOT NULL,
        data_config jsonb NOT NULL,
        training_config jsonb NOT NULL,
        dataset_id uuid REFERENCES datasets (id) ON DELETE RESTRICT,
        status varchar(20) NOT NULL CHECK (status IN ('queued', 'running', 'paused', 'completed', 'failed', 'stopped')),
        desired_state varchar(20) CHECK (desired_state IN ('pause', 'stop')),
        progress real NOT NULL DEFAULT 0,
        current_epoch integer NOT NULL DEFAULT 0,
        total_epochs integer NOT NULL,
        current_metrics jsonb,
        history jsonb NOT NULL DEFAULT '[]'::jsonb,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        completed_at timestamptz,
        duration double precision,
        model_path text,
        checkpoint_path text,
        owner varchar(200) NOT NULL,
        backend varchar(50),
        worker_id varchar(200),
        attempts integer NOT NULL DEFAULT 0
      )`);
    await q.query(`CREATE INDEX idx_training_jobs_status ON training_jobs (status)`);
    await q.query(`CREATE INDEX idx_training_jobs_owner ON training_jobs (owner)`);
    await q.query(`CREATE INDEX idx_training_jobs_dataset_id ON training_jobs (dataset_id)`);
    await q.query(`CREATE INDEX idx_training_jobs_created_at ON training_jobs (created_at DESC)`);

    await q.query(`
      CREATE TABLE training_checkpoints (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        job_id uuid NOT NULL REFERENCES training_jobs (id) ON DELETE CASCADE,
        epoch integer NOT NULL,
        step integer NOT NULL,
        metrics jsonb NOT NULL DEFAULT '{}'::jsonb,
        checkpoint_path text NOT NULL,
        file_size bigint NOT NULL,
        is_best boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX idx_training_checkpoints_job_id ON training_checkpoints (job_id)`);

    await q.query(`
      CREATE TABLE models (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name varchar(200) NOT NULL,
        description text NOT NULL DEFAULT '',
        backbone varchar(100) NOT NULL,
        num_classes integer NOT NULL,
        input_shape jsonb NOT NULL,
        accuracy double precision,
        loss double precision,
        metrics jsonb NOT NULL DEFAULT '{}'::jsonb,
        model_path text NOT NULL,
        file_size bigint,
        format varchar(50) NOT NULL,
        training_job_id uuid REFERENCES training_jobs (id) ON DELETE SET NULL,
        trained_epochs integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by varchar(200) NOT NULL,
        tags jsonb NOT NULL DEFAULT '[]'::jsonb
      )`);
    await q.query(`CREATE INDEX idx_models_name ON models (name)`);
    await q.query(`CREATE INDEX idx_models_training_job_id ON models (training_job_id)`);

    await q.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name varchar(200) NOT NULL,
        key_hash char(64) NOT NULL UNIQUE,
        key_prefix varchar(16) NOT NULL,
        role varchar(20) NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
        owner varchar(200) NOT NULL,
        created_by varchar(200) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      )`);

    await q.query(`
      CREATE TABLE idempotency_keys (
        owner varchar(200) NOT NULL,
        key varchar(255) NOT NULL,
        method varchar(10) NOT NULL,
        path text NOT NULL,
        request_hash char(64) NOT NULL,
        state varchar(20) NOT NULL CHECK (state IN ('in_progress', 'done')),
        response_status integer,
        response_body jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (owner, key)
      )`);
    await q.query(`CREATE INDEX idx_idempotency_keys_created_at ON idempotency_keys (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['idempotency_keys', 'api_keys', 'models', 'training_checkpoints', 'training_jobs', 'datasets', 'workflow_executions', 'workflows']) {
      await q.query(`DROP TABLE IF EXISTS ${t}`);
    }
  }
}
