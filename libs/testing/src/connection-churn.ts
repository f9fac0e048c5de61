import pg from 'pg';

/**
 * The application_name of a test's own observer connection: connection churn spares it, so the
 * test can keep reading rows while the apps' connections are cut.
 */
export const CHURN_SPARED_APPLICATION = 'mf-test-observer';

/**
 * What a failover or a pooler restart does to the apps: terminates every connection to `database`
 * (except the caller's and the observer's) every 30-80 ms for `ms`, or until `stop()` says so.
 * `admin` must be connected to another database (e.g. `postgres`). Returns how many were terminated.
 * Only the test's own database is touched: other suites run at the same time.
 */
export async function churnPostgres(admin: pg.Client, database: string, ms: number, stop: () => boolean = () => false): Promise<number> {
  let terminated = 0;
  const until = Date.now() + ms;
  while (Date.now() < until && !stop()) {
    const res = await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name <> $2`,
      [database, CHURN_SPARED_APPLICATION],
    );
    terminated += res.rowCount ?? 0;
    await new Promise((done) => setTimeout(done, 30 + Math.random() * 50));
  }
  return terminated;
}

/** A connection to the test's database that churnPostgres leaves alone (errors on it are ignored, not thrown). */
export async function observerConnection(databaseUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: CHURN_SPARED_APPLICATION });
  client.on('error', () => undefined); // spared by the churn; a stray error must not crash the test run
  await client.connect();
  return client;
}
