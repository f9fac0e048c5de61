import pg from 'pg';
import { envForChild, freePort, isolatedResources, startAppProcess, waitFor, waitForHttpOk, type AppProcess, type IsolatedResources } from '@medfusion/testing';

/**
 * Issue #17, item 11: clients that retry a POST with the same Idempotency-Key must get exactly one
 * resource even when the gateway is SIGKILLed while it handles their first attempts. The built
 * gateway is a real process; the test kills it with requests in flight, restarts it with a short
 * stale window (IDEMPOTENCY_STALE_SECONDS) and retries every key.
 *
 * To be sure some requests are caught in the window that used to duplicate (their job row written,
 * their key not yet marked done), a helper connection row-locks every key claim as it appears, so
 * requests stall right where they mark their key done; the gateway is killed while at least a few
 * stall there. Postgres is told to notice dead clients during a statement
 * (client_connection_check_interval), as it would notice a crashed host's connections soon enough.
 */
const KEYS = 200;
const STALE_SECONDS = 2;

describe('Idempotency-Key across a gateway crash (real processes)', () => {
  let resources: IsolatedResources;
  let db: pg.Client;
  /** Holds the row locks, in its own transaction (pg_stat_activity would show it a frozen snapshot). */
  let locker: pg.Client;
  let lockerConnected = false;
  const started: AppProcess[] = [];

  beforeAll(async () => {
    resources = await isolatedResources();
    db = new pg.Client({ connectionString: resources.databaseUrl });
    await db.connect();
    locker = new pg.Client({ connectionString: resources.databaseUrl });
    // Applies to the gateways' connections, opened after this.
    await db.query(`ALTER DATABASE ${new URL(resources.databaseUrl).pathname.slice(1)} SET client_connection_check_interval = '100ms'`);
  });
  afterAll(async () => {
    started.forEach((p) => p.kill());
    if (lockerConnected) await locker.end();
    await db?.end();
    await resources.cleanup();
  });

  async function startGateway(): Promise<{ proc: AppProcess; url: string }> {
    const port = await freePort();
    const proc = startAppProcess('api-gateway', envForChild(resources, { GATEWAY_PORT: String(port), IDEMPOTENCY_STALE_SECONDS: String(STALE_SECONDS), LOG_LEVEL: 'warn' }));
    started.push(proc);
    const url = `http://127.0.0.1:${port}`;
    await waitForHttpOk(`${url}/health/ready`, proc, 60_000);
    return { proc, url };
  }

  const post = (url: string, key: string, datasetId: string) =>
    fetch(`${url}/api/v1/training-jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${resources.adminKey}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ name: key, dataConfig: { datasetId }, trainingConfig: { epochs: 1, batchSize: 8 } }),
    });

  const waitingOnLocks = async (): Promise<number> =>
    Number((await db.query(`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()`)).rows[0].n);

  it('SIGKILL with requests in flight, restart, retry every key: exactly one job row per key', async () => {
    const first = await startGateway();
    const [{ id: datasetId }] = (
      await db.query(`INSERT INTO datasets (name, data_path, num_samples, num_classes, created_by) VALUES ('crash', '/data/crash', 10, 2, 'admin') RETURNING id`)
    ).rows as [{ id: string }];
    const keys = Array.from({ length: KEYS }, (_, i) => `crash-${String(i).padStart(3, '0')}`);

    await locker.connect();
    lockerConnected = true;
    await locker.query('BEGIN');
    const lockerPid = Number((await locker.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    const inFlight = keys.map((k) => post(first.url, k, datasetId).then((r) => r.status, () => 'connection lost'));
    let stalled = 0;
    await waitFor(
      'requests stalled while marking their key done',
      async () => {
        await locker.query(`SELECT key FROM idempotency_keys WHERE state = 'in_progress' FOR UPDATE SKIP LOCKED`);
        stalled = await waitingOnLocks();
        return stalled >= 5;
      },
      30_000,
      20,
    );
    first.proc.proc.kill('SIGKILL');
    await first.proc.exited;
    const firstOutcomes = await Promise.all(inFlight);
    // The dead gateway's sessions end (and roll back what they had not committed) before the locks go.
    await waitFor('the killed gateway\'s database sessions to end', async () => {
      const { rows } = await db.query(`SELECT pid, state, wait_event_type, query FROM pg_stat_activity WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), $1)`, [lockerPid]);
      if (rows.length) throw new Error(JSON.stringify(rows).slice(0, 2000));
      return true;
    }, 20_000);
    await locker.query('ROLLBACK');

    const { rows: left } = await db.query(
      `SELECT count(*) FILTER (WHERE k.state = 'in_progress')::int AS in_progress,
              count(*) FILTER (WHERE k.state = 'in_progress' AND EXISTS (SELECT 1 FROM training_jobs j WHERE j.name = k.key))::int AS in_progress_with_row
         FROM idempotency_keys k`,
    );
    const context = { stalled, firstAnswers: firstOutcomes.filter((o) => o === 201).length, ...left[0] };

    const second = await startGateway();
    const retried = new Map<string, string>();
    await Promise.all(
      keys.map(async (key) => {
        // 409 while the dead gateway's claim is not stale yet.
        const body = await waitFor(`a 201 for ${key}`, async () => {
          const res = await post(second.url, key, datasetId);
          if (res.status === 409) return undefined;
          if (res.status !== 201) throw new Error(`${key}: ${res.status} ${await res.text()}`);
          return (await res.json()) as { id: string };
        }, 30_000, 250);
        retried.set(key, body.id);
      }),
    );

    const { rows } = await db.query(`SELECT name, array_agg(id::text) AS ids FROM training_jobs GROUP BY name`);
    const perKey = new Map((rows as { name: string; ids: string[] }[]).map((r) => [r.name, r.ids]));
    const duplicated = keys.filter((k) => (perKey.get(k)?.length ?? 0) !== 1);
    expect({ ...context, duplicated }).toEqual({ ...context, duplicated: [] });
    expect(perKey.size).toBe(KEYS);
    for (const key of keys) expect({ key, id: retried.get(key) }).toEqual({ key, id: perKey.get(key)![0] });
  }, 180_000);
});
