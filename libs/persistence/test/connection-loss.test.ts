import pg from 'pg';
import type { DataSource } from 'typeorm';
import { isTransientDbError, openDatabase, withDbRetry } from '@medfusion/persistence';
import { isolatedResources, resolveServices, type IsolatedResources } from '@medfusion/testing';

/**
 * The apps' pools when Postgres terminates their connections (failover, pooler restart,
 * pg_terminate_backend): no process crash, errors recognised as transient, writes retried.
 * Only this file's database's backends are terminated.
 */
describe('Postgres connection loss', () => {
  let r: IsolatedResources;
  let ds: DataSource;
  let admin: pg.Client;
  let dbName: string;
  const connectionErrors: Error[] = [];

  const terminateAll = async () =>
    (await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name = 'mf-test-churn'`, [dbName])).rowCount ?? 0;

  beforeAll(async () => {
    r = await isolatedResources();
    dbName = new URL(r.databaseUrl).pathname.slice(1);
    ds = await openDatabase({ url: r.databaseUrl, migrate: true, poolSize: 4, applicationName: 'mf-test-churn', onConnectionError: (e) => connectionErrors.push(e) });
    admin = new pg.Client({ connectionString: (await resolveServices()).postgresUrl });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await ds?.destroy();
    await r.cleanup();
  });

  it('every pooled connection has an error listener, even while checked out', async () => {
    // pg-pool drops its own listener while a client is out; a FATAL that arrives in the same packet
    // as the handshake's ReadyForQuery was emitted before TypeORM attached one: the process crashed.
    const pool = (ds.driver as unknown as { master: pg.Pool }).master;
    const client = await pool.connect();
    try {
      expect(client.listenerCount('error')).toBeGreaterThan(0);
    } finally {
      client.release();
    }
  });

  it('survives repeated termination of its connections while queries and transactions run, and says why calls failed', async () => {
    const failures: unknown[] = [];
    let ok = 0;
    let stop = false;
    const loop = async (i: number) => {
      while (!stop) {
        try {
          if (i % 2) await ds.transaction(async (tx) => {
            await tx.query('SELECT 1');
            await new Promise((res) => setTimeout(res, 5));
            await tx.query('SELECT 2');
          });
          else await ds.query('SELECT pg_sleep(0.005)');
          ok++;
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const loops = [0, 1, 2, 3, 4, 5].map(loop);
    let terminated = 0;
    const until = Date.now() + 2500;
    while (Date.now() < until) {
      terminated += await terminateAll();
      await new Promise((res) => setTimeout(res, 10 + Math.random() * 30));
    }
    stop = true;
    await Promise.all(loops);
    expect(terminated).toBeGreaterThan(10);
    expect(ok).toBeGreaterThan(0);
    expect(failures.length).toBeGreaterThan(0);
    // Every failure is one a retry can fix; the pool reconnects on its own.
    expect(failures.filter((f) => !isTransientDbError(f)).map(String)).toEqual([]);
    expect(connectionErrors.length).toBeGreaterThan(0);
    expect(await ds.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('a write retried with withDbRetry lands once although its connections keep being terminated', async () => {
    await ds.query(`CREATE TABLE churn_writes (k int PRIMARY KEY, n int NOT NULL DEFAULT 1)`);
    let stop = false;
    const churn = (async () => {
      while (!stop) {
        await terminateAll();
        await new Promise((res) => setTimeout(res, 20 + Math.random() * 40));
      }
    })();
    let retries = 0;
    let writes = 0;
    try {
      // At least 40 writes, and on until the churn has hit some (how soon it does depends on timing).
      while (writes < 40 || (retries === 0 && writes < 2000)) {
        const k = writes++;
        // Safe to repeat, as the worker's writes are: an upsert keyed by the epoch.
        await withDbRetry(() => ds.query(`INSERT INTO churn_writes (k) VALUES ($1) ON CONFLICT (k) DO NOTHING`, [k]), { maxMs: 10_000, initialDelayMs: 10, onRetry: () => retries++ });
        await new Promise((res) => setTimeout(res, 10));
      }
    } finally {
      stop = true;
      await churn;
    }
    const rows = await withDbRetry(() => ds.query(`SELECT count(*)::int AS n FROM churn_writes`), { maxMs: 5000 });
    expect(retries).toBeGreaterThan(0);
    expect(rows[0].n).toBe(writes);
  });
});
