import { jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  churnPostgres,
  envForChild,
  isolatedResources,
  observerConnection,
  resolveServices,
  startReadyApp,
  startTrainingStack,
  waitFor,
  waitForHttpOk,
  type AppProcess,
  type IsolatedResources,
  type TrainingStack,
} from '@medfusion/testing';

/**
 * Issue #17: the apps against Postgres connection churn (backends terminated over and over, as a
 * failover or a pooler restart does) and a worker SIGKILLed mid-job, with real processes. Only this
 * file's database's app connections are terminated (other suites run at the same time).
 */
jest.setTimeout(240_000);

const TTL_MS = 6000;

describe('worker and database resilience (real processes)', () => {
  let r: IsolatedResources;
  let stack: TrainingStack;
  let db: pg.Client;
  let admin: pg.Client;
  let dbName: string;
  let workDir: string;
  let scheduler: AppProcess;
  const procs: AppProcess[] = [];

  async function start(app: string, extra: Record<string, string>): Promise<{ proc: AppProcess; ready: string }> {
    const started = await startReadyApp(app, envForChild(r, { ARTIFACTS_DIR: join(workDir, 'artifacts'), WORKER_HEARTBEAT_TTL_MS: String(TTL_MS), ...extra }));
    procs.push(started.proc);
    return started;
  }
  const workers: AppProcess[] = [];
  async function startWorker(id: string, extra: Record<string, string> = {}): Promise<{ proc: AppProcess; ready: string }> {
    const w = await start('gpu-worker', { WORKER_ID: id, SHUTDOWN_TIMEOUT_MS: '60000', LOG_LEVEL: 'info', ...extra });
    workers.push(w.proc);
    return w;
  }
  /** Each test starts with no gpu-worker from an earlier one (which could take its job). */
  async function stopWorkers(): Promise<void> {
    for (const w of workers.splice(0)) {
      w.kill();
      await w.exited;
    }
  }
  beforeEach(stopWorkers);

  async function submit(epochs: number, workers = 1): Promise<string> {
    const res = await stack.api('POST', '/api/v1/training-jobs', {
      key: r.adminKey,
      body: {
        name: 'resilience',
        dataConfig: { datasetId: stack.datasetId },
        modelConfig: { imageSize: 32, convFilters: [4, 8], imageFeatureSize: 16, clinicalHiddenSize: 16, fusedSize: 16, dropout: 0 },
        trainingConfig: { epochs, batchSize: 8 * workers, learningRate: 0.01, ...(workers > 1 ? { resources: { workers } } : {}) },
      },
    });
    expect(res.status).toBe(201);
    return res.body.id;
  }
  const churn = (ms: number, stop?: () => boolean) => churnPostgres(admin, dbName, ms, stop);
  async function untilFinished(id: string): Promise<{ status: string; error: string | null; history: Array<{ epoch: number }>; attempts: number }> {
    return waitFor('the job to finish', async () => {
      const j = await db.query(`SELECT status, error, history, attempts FROM training_jobs WHERE id = $1`, [id]);
      return ['completed', 'failed', 'stopped'].includes(j.rows[0].status) ? j.rows[0] : null;
    }, 180_000, 250);
  }
  const row = async (id: string) => (await db.query(`SELECT status, worker_id, current_epoch, attempts, history FROM training_jobs WHERE id = $1`, [id])).rows[0];
  const epochsOf = (history: Array<{ epoch: number }>) => history.map((h) => h.epoch);
  const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  beforeAll(async () => {
    r = await isolatedResources();
    dbName = new URL(r.databaseUrl).pathname.slice(1);
    workDir = mkdtempSync(join(tmpdir(), 'mf-resilience-'));
    stack = await startTrainingStack(r, { workDir, numCases: 300, seed: 5 });
    procs.push(stack.gateway);
    db = await observerConnection(r.databaseUrl);
    admin = new pg.Client({ connectionString: (await resolveServices()).postgresUrl });
    await admin.connect();
    ({ proc: scheduler } = await start('scheduler', { GANG_SCHEDULE_INTERVAL_MS: '500' }));
  });

  afterAll(async () => {
    stack?.closeSockets();
    procs.forEach((p) => p.kill());
    await db?.end();
    await admin?.end();
    await r?.cleanup();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('Postgres connections cut again and again for 10 s during a running job: the job completes with every epoch once, the apps stay up, no slot leaks', async () => {
    const worker = await startWorker('churned');
    const id = await submit(30);
    await waitFor('epoch 2', async () => ((await row(id))?.current_epoch ?? 0) >= 2, 120_000, 100);

    expect(await churn(10_000)).toBeGreaterThan(20);

    const done = await untilFinished(id);
    expect([done.status, done.error]).toEqual(['completed', null]);
    expect(epochsOf(done.history)).toEqual(range(30));
    for (const app of [stack.gateway, scheduler, worker.proc]) expect(app.proc.exitCode).toBeNull();
    expect(worker.proc.output()).not.toMatch(/Unhandled 'error' event|training job failed/);
    // The slot is free again and the worker ready for work: it trains the next job.
    await waitFor('the slot to be idle', async () => (await db.query(`SELECT state FROM worker_slots WHERE worker_id = 'churned'`)).rows[0]?.state === 'idle', 20_000, 200);
    await waitForHttpOk(worker.ready, worker.proc);
    const next = await submit(1);
    await stack.untilJobStatus(next, 'completed', 60_000);
    worker.proc.proc.kill('SIGTERM');
    expect(await worker.proc.exited).toBe(0);
  });

  it('with no retry budget (DB_RETRY_MAX_MS=0) a write lost to a terminated connection hands the job back; it resumes from its checkpoint and completes, never failed', async () => {
    const worker = await startWorker('impatient', { DB_RETRY_MAX_MS: '0' });
    const id = await submit(30);
    await waitFor('epoch 2', async () => ((await row(id))?.current_epoch ?? 0) >= 2, 120_000, 100);
    const handedBack = () => /handing the job back to resume from its last checkpoint/.test(worker.proc.output());
    await churn(20_000, handedBack);
    expect(handedBack()).toBe(true);
    const done = await untilFinished(id);
    expect([done.status, done.error]).toEqual(['completed', null]);
    expect(epochsOf(done.history)).toEqual(range(30));
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    expect(worker.proc.proc.exitCode).toBeNull();
  });

  it('churn during a running 2-worker gang job: the gang completes with every epoch once (a rank that lost the database restarts the gang, never fails it)', async () => {
    const gangEnv = { COMPUTE_THREADS: '1', COLLECTIVE_ADVERTISE_HOST: '127.0.0.1', COLLECTIVE_BIND_HOST: '127.0.0.1', COLLECTIVE_PORT: '0', COLLECTIVE_DATA_PORT: '0' };
    const [a, b] = await Promise.all([startWorker('rank-a', gangEnv), startWorker('rank-b', gangEnv)]);
    const id = await submit(20, 2);
    await waitFor('epoch 2 of the gang', async () => ((await row(id))?.current_epoch ?? 0) >= 2, 120_000, 100);
    expect(await churn(8000)).toBeGreaterThan(10);
    const done = await untilFinished(id);
    expect([done.status, done.error]).toEqual(['completed', null]);
    expect(epochsOf(done.history)).toEqual(range(20));
    for (const app of [stack.gateway, scheduler, a.proc, b.proc]) expect(app.proc.exitCode).toBeNull();
    await waitFor('both slots idle', async () => {
      const { rows } = await db.query(`SELECT state FROM worker_slots WHERE worker_id IN ('rank-a', 'rank-b')`);
      return rows.length === 2 && rows.every((x) => x.state === 'idle');
    }, 20_000, 200);
  });

  it('churn during a running sweep: every trial ends complete, the sweep completes with a best trial, and the scheduler and workers stay up', async () => {
    const worker = await startWorker('sweeper');
    const created = await stack.api('POST', '/api/v1/sweeps', {
      key: r.adminKey,
      body: {
        name: 'churned sweep',
        searchSpace: { 'trainingConfig.learningRate': { type: 'float', low: 0.001, high: 0.05, log: true } },
        objectives: [{ metric: 'val_loss', direction: 'minimize' }],
        sampler: { type: 'random' },
        budget: { maxTrials: 4 },
        parallelism: 1,
        seed: 9,
        baseTrainingJob: {
          dataConfig: { datasetId: stack.datasetId },
          modelConfig: { imageSize: 32, convFilters: [4, 8], imageFeatureSize: 16, clinicalHiddenSize: 16, fusedSize: 16, dropout: 0 },
          trainingConfig: { epochs: 8, batchSize: 8 },
        },
      },
    });
    expect(created.status).toBe(201);
    const sweepId = created.body.id as string;
    await waitFor('the first trial to train', async () => {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM training_jobs j JOIN trials t ON t.training_job_id = j.id WHERE t.sweep_id = $1 AND j.current_epoch >= 1`, [sweepId]);
      return rows[0].n >= 1;
    }, 120_000, 100);

    expect(await churn(8000)).toBeGreaterThan(10);

    const sweep = await waitFor('the sweep to end', async () => {
      const { rows } = await db.query(`SELECT status, error FROM sweeps WHERE id = $1`, [sweepId]);
      return ['completed', 'failed', 'stopped'].includes(rows[0].status) ? rows[0] : null;
    }, 240_000, 250);
    expect(sweep).toEqual({ status: 'completed', error: null });
    const { rows: trials } = await db.query(`SELECT t.state, j.status, j.history FROM trials t JOIN training_jobs j ON j.id = t.training_job_id WHERE t.sweep_id = $1 ORDER BY t.number`, [sweepId]);
    expect(trials.map((t) => [t.state, t.status])).toEqual(Array.from({ length: 4 }, () => ['complete', 'completed']));
    for (const t of trials) expect(epochsOf(t.history)).toEqual(range(8));
    const detail = (await stack.api('GET', `/api/v1/sweeps/${sweepId}`, { key: r.adminKey })).body;
    expect(detail.bestTrial?.modelId).toEqual(expect.any(String));
    for (const app of [stack.gateway, scheduler, worker.proc]) expect(app.proc.exitCode).toBeNull();
  });

  it('a SIGKILLed worker’s job runs on another worker within the heartbeat TTL (not the 60 s queue lock), every epoch recorded once', async () => {
    const victim = await startWorker('victim');
    const id = await submit(24);
    await waitFor('the job running on the victim', async () => (await row(id))?.worker_id === 'victim', 60_000, 50);
    // The heir starts while the victim trains (it must not be there to take the job first).
    await startWorker('heir');
    await waitFor('epoch 2 checkpoint on the victim', async () => {
      const ckpt = (await db.query(`SELECT max(epoch)::int AS e FROM training_checkpoints WHERE job_id = $1`, [id])).rows[0];
      return (ckpt?.e ?? 0) >= 2;
    }, 120_000, 100);
    victim.proc.proc.kill('SIGKILL');
    await victim.proc.exited;
    const killedAt = Date.now();
    await waitFor('the job running on the heir', async () => {
      const j = await row(id);
      return j.status === 'running' && j.worker_id === 'heir';
    }, 60_000, 100).catch(async (err: Error) => {
      const j = await row(id);
      const tail = (p: AppProcess) => p.output().split('\n').filter((l) => /"level":(40|50)|requeue|claimed|held/.test(l)).slice(-15).join('\n');
      throw new Error(`${err.message}; row ${JSON.stringify({ ...j, history: undefined })}\n--- scheduler\n${tail(scheduler)}\n--- heir\n${tail(workers.at(-1)!)}`);
    });
    const recoveredMs = Date.now() - killedAt;
    expect((await row(id)).attempts).toBe(2); // the victim still had the job when it was killed
    // The queue lock (TRAINING_LOCK_DURATION_MS, 60 s here) has not lapsed: the scheduler's requeue did it.
    expect(recoveredMs).toBeLessThan(TTL_MS + 15_000);
    const done = await stack.untilJobStatus(id, 'completed', 120_000);
    expect(epochsOf(done.history)).toEqual(range(24));
    expect(done.attempts).toBe(2);
    expect(scheduler.output()).toMatch(/queued a dead worker’s training job again/);
  });
});
