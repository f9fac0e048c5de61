import { jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TrainingEvent } from '@medfusion/contracts';
import {
  churnPostgres,
  deleteRedisPrefix,
  envForChild,
  isolatedResources,
  observerConnection,
  resolveServices,
  startReadyApp,
  startTrainingStack,
  waitFor,
  type AppProcess,
  type IsolatedResources,
  type TrainingStack,
} from '@medfusion/testing';

/**
 * Issue #17's standing chaos test: one training job on two gpu-workers with a scheduler, while
 * Redis loses every MedFusion key (twice), Postgres connections are cut again and again, and the
 * worker training the job is SIGKILLed. The job must complete with every epoch in its history
 * once, trained by one worker at a time: Postgres is the authority, Redis only a transport.
 * Only this file's database's and Redis prefix's state is touched (other suites run meanwhile).
 */
jest.setTimeout(300_000);

/**
 * Enough epochs (about 0.1 s each on an idle machine) that the job outlasts the disruptions on a
 * fast machine: with 40, a quiet run finished before the churn had ended.
 */
const EPOCHS = 200;
const HEARTBEAT_TTL_MS = 6000;

describe('chaos: Redis data loss, Postgres connection churn and a killed worker during one job', () => {
  let r: IsolatedResources;
  let stack: TrainingStack;
  let observer: pg.Client;
  let admin: pg.Client;
  let dbName: string;
  let workDir: string;
  const procs: AppProcess[] = [];

  async function start(app: string, extra: Record<string, string>): Promise<AppProcess> {
    const { proc } = await startReadyApp(app, envForChild(r, { ARTIFACTS_DIR: join(workDir, 'artifacts'), WORKER_HEARTBEAT_TTL_MS: String(HEARTBEAT_TTL_MS), ...extra }));
    procs.push(proc);
    return proc;
  }

  /** What a Redis failover without persistence does to MedFusion: every key of its prefix gone. */
  const loseRedisData = () => deleteRedisPrefix(r.redisUrl, r.redisPrefix);
  const churn = (ms: number) => churnPostgres(admin, dbName, ms);

  const row = async (id: string) =>
    (await observer.query(`SELECT status, error, worker_id, current_epoch, attempts, history FROM training_jobs WHERE id = $1`, [id])).rows[0] as {
      status: string;
      error: string | null;
      worker_id: string | null;
      current_epoch: number;
      attempts: number;
      history: Array<{ epoch: number }>;
    };
  /** The warnings and errors each app logged last, for a failure message. */
  const logTails = () =>
    procs.map((p, i) => `--- app ${i}\n${p.output().split('\n').filter((l) => /"level":(40|50|60)/.test(l)).slice(-8).map((l) => l.slice(0, 600)).join('\n')}`).join('\n');
  const latestCheckpointEpoch = async (id: string) => (await observer.query(`SELECT coalesce(max(epoch), 0)::int AS e FROM training_checkpoints WHERE job_id = $1`, [id])).rows[0].e as number;

  beforeAll(async () => {
    r = await isolatedResources();
    dbName = new URL(r.databaseUrl).pathname.slice(1);
    workDir = mkdtempSync(join(tmpdir(), 'mf-chaos-'));
    stack = await startTrainingStack(r, { workDir, numCases: 300, seed: 23 });
    procs.push(stack.gateway);
    observer = await observerConnection(r.databaseUrl);
    admin = new pg.Client({ connectionString: (await resolveServices()).postgresUrl });
    await admin.connect();
    await start('scheduler', { RECONCILE_INTERVAL_MS: '1000', GANG_SCHEDULE_INTERVAL_MS: '500' });
    for (const id of ['chaos-a', 'chaos-b']) await start('gpu-worker', { WORKER_ID: id, COMPUTE_THREADS: '1', SHUTDOWN_TIMEOUT_MS: '60000' });
  });

  afterAll(async () => {
    stack?.closeSockets();
    procs.forEach((p) => p.kill());
    await observer?.end();
    await admin?.end();
    await r?.cleanup();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('the job completes with every epoch once, one worker at a time, and every app but the killed worker stays up', async () => {
    const res = await stack.api('POST', '/api/v1/training-jobs', {
      key: r.adminKey,
      body: {
        name: 'chaos',
        dataConfig: { datasetId: stack.datasetId },
        modelConfig: { imageSize: 32, convFilters: [4, 8], imageFeatureSize: 16, clinicalHiddenSize: 16, fusedSize: 16, dropout: 0 },
        trainingConfig: { epochs: EPOCHS, batchSize: 8, learningRate: 0.01 },
      },
    });
    expect(res.status).toBe(201);
    const id = res.body.id as string;
    const { events } = await stack.watchJob(id);
    await waitFor('epoch 2', async () => ((await row(id))?.current_epoch ?? 0) >= 2, 120_000, 100);

    // 1. Redis loses the job's BullMQ record and lock while it trains.
    expect(await loseRedisData()).toBeGreaterThan(0);
    // 2. Postgres connections of every app cut for 3 s.
    expect(await churn(3000)).toBeGreaterThan(5);
    const beforeKill = await row(id);
    // Neither the lost queue record nor the churn gave the job to a second worker.
    expect([beforeKill.status, beforeKill.attempts]).toEqual(['running', 1]);
    const victim = beforeKill.worker_id!;
    const heir = victim === 'chaos-a' ? 'chaos-b' : 'chaos-a';

    // 3. The worker training it is killed after its next checkpoint.
    const seen = await latestCheckpointEpoch(id);
    await waitFor('a fresh checkpoint', async () => (await latestCheckpointEpoch(id)) > seen, 60_000, 50).catch(async (err: Error) => {
      throw new Error(`${err.message}; row ${JSON.stringify({ ...(await row(id)), history: undefined })}\n${logTails()}`);
    });
    const victimProc = procs.find((p) => p.output().includes(`"workerId":"${victim}"`))!;
    victimProc.proc.kill('SIGKILL');
    await victimProc.exited;
    const resumeFrom = await latestCheckpointEpoch(id);
    const epochEventsBeforeKill = events.filter((e) => e.type === 'epoch').length;

    await waitFor('the heir to run the job', async () => {
      const j = await row(id);
      return j.status === 'running' && j.worker_id === heir && j.current_epoch > resumeFrom;
    }, 60_000, 100);
    // 4. Redis loses everything again, now under the heir.
    await loseRedisData();

    const done = await waitFor('the job to finish', async () => {
      const j = await row(id);
      return ['completed', 'failed', 'stopped'].includes(j.status) ? j : null;
    }, 240_000, 250);
    expect([done.status, done.error]).toEqual(['completed', null]);
    expect(done.history.map((h) => h.epoch)).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
    // One claim by the first worker, one by the heir: no run was started twice.
    expect(done.attempts).toBe(2);

    // Trained once: epoch events rise by one, except where the heir went back to the checkpoint the
    // victim left (only epochs the victim trained past that checkpoint are trained again). When the
    // kill fell right after a checkpoint, there is no step back at all.
    await waitFor('the completed event', async () => events.some((e) => e.type === 'status' && e.status === 'completed'), 20_000);
    const epochs = events.filter((e): e is Extract<TrainingEvent, { type: 'epoch' }> => e.type === 'epoch').map((e) => e.epoch);
    const restarts = epochs.flatMap((e, i) => (i > 0 && e !== epochs[i - 1]! + 1 ? [i] : []));
    expect(restarts.length).toBeLessThanOrEqual(1);
    if (restarts.length === 1) {
      expect(restarts[0]).toBeGreaterThanOrEqual(epochEventsBeforeKill);
      expect(epochs[restarts[0]!]).toBe(resumeFrom + 1);
      expect(epochs[restarts[0]! - 1]! - resumeFrom).toBeLessThanOrEqual(1);
    }
    expect(epochs[0]).toBe(1);
    expect(epochs.at(-1)).toBe(EPOCHS);
    expect(new Set(epochs).size).toBe(EPOCHS);

    for (const app of procs.filter((p) => p.proc.pid !== victimProc.proc.pid)) expect(app.proc.exitCode).toBeNull();
    expect(procs.map((p) => p.output()).join('\n')).not.toMatch(/Unhandled 'error' event/);
  });
});
