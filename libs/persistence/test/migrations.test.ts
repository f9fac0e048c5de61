import pg from 'pg';
import { createDataSource, ensureDatabase, MIGRATIONS, openDatabase, runMigrations } from '@medfusion/persistence';
import { isolatedResources, type IsolatedResources } from '@medfusion/testing';

/** The columns ISSUE #2 requires, per table; the migration may add more. */
const REQUIRED_COLUMNS: Record<string, string[]> = {
  workflows: ['id', 'name', 'description', 'nodes', 'edges', 'created_at', 'updated_at', 'created_by', 'execution_count', 'last_executed_at'],
  workflow_executions: ['id', 'workflow_id', 'status', 'result', 'error', 'started_at', 'completed_at', 'duration'],
  training_jobs: [
    'id', 'name', 'description', 'model_config', 'data_config', 'training_config', 'status', 'progress', 'current_epoch', 'total_epochs',
    'current_metrics', 'history', 'error', 'created_at', 'started_at', 'completed_at', 'duration', 'model_path', 'checkpoint_path', 'owner',
  ],
  training_checkpoints: ['id', 'job_id', 'epoch', 'step', 'metrics', 'checkpoint_path', 'file_size', 'is_best', 'created_at'],
  models: [
    'id', 'name', 'description', 'backbone', 'num_classes', 'input_shape', 'accuracy', 'loss', 'metrics', 'model_path', 'file_size', 'format',
    'training_job_id', 'trained_epochs', 'created_at', 'created_by', 'tags',
  ],
  datasets: [
    'id', 'name', 'description', 'data_path', 'num_samples', 'num_classes', 'train_samples', 'val_samples', 'test_samples',
    'class_distribution', 'created_at', 'created_by', 'tags',
  ],
  api_keys: ['id', 'name', 'key_hash', 'role', 'owner', 'revoked_at'],
};

const REQUIRED_INDEXES: Array<[table: string, column: string]> = [
  ['workflows', 'name'],
  ['workflow_executions', 'workflow_id'],
  ['workflow_executions', 'status'],
  ['training_jobs', 'status'],
  ['training_checkpoints', 'job_id'],
  ['models', 'name'],
  ['datasets', 'name'],
];

const REQUIRED_FOREIGN_KEYS: Array<[table: string, column: string, references: string]> = [
  ['workflow_executions', 'workflow_id', 'workflows'],
  ['training_checkpoints', 'job_id', 'training_jobs'],
  ['models', 'training_job_id', 'training_jobs'],
];

describe('migrations on an empty database', () => {
  let r: IsolatedResources;
  let client: pg.Client;

  beforeAll(async () => {
    r = await isolatedResources();
    client = new pg.Client({ connectionString: r.databaseUrl });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await r.cleanup();
  });

  it('starts empty, and several apps migrating at once apply each migration exactly once', async () => {
    const before = await client.query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'`);
    expect(before.rows[0].n).toBe(0);

    const sources = await Promise.all([1, 2, 3].map(() => createDataSource({ url: r.databaseUrl, poolSize: 2 }).initialize()));
    try {
      const applied = await Promise.all(sources.map((ds) => runMigrations(ds)));
      expect(applied.flat()).toEqual(MIGRATIONS.map((m) => m.name));
      // Running again (an app restart) applies nothing.
      expect(await runMigrations(sources[0]!)).toEqual([]);
    } finally {
      await Promise.all(sources.map((ds) => ds.destroy()));
    }
    const log = await client.query('SELECT name FROM schema_migrations');
    expect(log.rows.map((row) => row.name)).toEqual(MIGRATIONS.map((m) => m.name));
  });

  it.each(Object.entries(REQUIRED_COLUMNS))('creates %s with the required columns', async (table, columns) => {
    const res = await client.query(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1`, [table]);
    const present = res.rows.map((row) => row.column_name as string);
    expect(present).toEqual(expect.arrayContaining(columns));
  });

  it.each(REQUIRED_INDEXES)('indexes %s.%s', async (table, column) => {
    const res = await client.query(`SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = $1`, [table]);
    expect(res.rows.some((row) => new RegExp(`\\(${column}\\b`).test(row.indexdef))).toBe(true);
  });

  it.each(REQUIRED_FOREIGN_KEYS)('%s.%s references %s', async (table, column, target) => {
    const res = await client.query(
      `SELECT ccu.table_name AS target
         FROM information_schema.table_constraints tc
         JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name
         JOIN information_schema.constraint_column_usage ccu ON tc.constraint_name = ccu.constraint_name
        WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_name = $1 AND kcu.column_name = $2`,
      [table, column],
    );
    expect(res.rows.map((row) => row.target)).toContain(target);
  });

  it('rejects a status outside the lifecycle at the database level too', async () => {
    await expect(
      client.query(`INSERT INTO training_jobs (name, model_config, data_config, training_config, status, total_epochs, owner)
                    VALUES ('x', '{}', '{}', '{}', 'exploded', 1, 'a')`),
    ).rejects.toThrow(/check constraint/);
  });

  it('several apps creating a missing database at once all succeed (the quickstart on a fresh machine)', async () => {
    const url = new URL(r.databaseUrl);
    const name = `${url.pathname.slice(1)}_race`;
    url.pathname = `/${name}`;
    try {
      // Concurrent CREATE DATABASEs that both pass the existence check fail with a unique
      // violation on pg_database, not duplicate_database: every round must still succeed.
      for (let round = 0; round < 5; round++) {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await Promise.all([1, 2, 3, 4].map(() => ensureDatabase(url.toString())));
        const res = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        expect(res.rowCount).toBe(1);
      }
    } finally {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });

  it('openDatabase creates a missing database before migrating it', async () => {
    const url = new URL(r.databaseUrl);
    const name = `${url.pathname.slice(1)}_fresh`;
    url.pathname = `/${name}`;
    const ds = await openDatabase({ url: url.toString(), migrate: true });
    try {
      const res = await ds.query(`SELECT count(*)::int AS n FROM schema_migrations`);
      expect(res[0].n).toBe(MIGRATIONS.length);
    } finally {
      await ds.destroy();
      await client.query(`DROP DATABASE ${name} WITH (FORCE)`);
    }
  });
});
