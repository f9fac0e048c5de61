import { jest } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  envForChild,
  freePort,
  isolatedResources,
  startAppProcess,
  startTrainingStack,
  waitFor,
  waitForHttpOk,
  type ApiClient,
  type AppProcess,
  type IsolatedResources,
  type TrainingStack,
} from '@medfusion/testing';

/**
 * Training end to end with real processes: the gateway, gpu-workers and the scheduler against the
 * test's own database and Redis prefix, a generated data set, REST to submit and control, Socket.IO
 * to watch.
 */
jest.setTimeout(240_000);

describe('training jobs end to end (real processes)', () => {
  let r: IsolatedResources;
  let stack: TrainingStack;
  let api: ApiClient;
  let db: pg.Client;
  let datasetId: string;
  let workDir: string;
  const procs: AppProcess[] = [];

  async function startWorker(name: string): Promise<AppProcess> {
    const port = await freePort();
    const p = startAppProcess(
      'gpu-worker',
      envForChild(r, {
        GPU_WORKER_HEALTH_PORT: String(port),
        WORKER_ID: name,
        ARTIFACTS_DIR: join(workDir, 'artifacts'),
        TRAINING_LOCK_DURATION_MS: '4000',
        TRAINING_STALLED_INTERVAL_MS: '1000',
        SHUTDOWN_TIMEOUT_MS: '60000',
      }),
    );
    procs.push(p);
    await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, p);
    return p;
  }

  const watch = (jobId: string, key = r.adminKey) => stack.watchJob(jobId, key);

  const submit = (trainingConfig: Record<string, unknown>, key = r.adminKey) => submitTo(datasetId, trainingConfig, key);

  async function submitTo(dataset: string, trainingConfig: Record<string, unknown>, key = r.adminKey): Promise<string> {
    const res = await api('POST', '/api/v1/training-jobs', {
      key,
      body: {
        name: 'e2e',
        dataConfig: { datasetId: dataset },
        modelConfig: { imageSize: 32, convFilters: [4, 8], imageFeatureSize: 16, clinicalHiddenSize: 16, fusedSize: 16, dropout: 0 },
        trainingConfig: { batchSize: 32, learningRate: 0.01, ...trainingConfig },
      },
    });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  const job = async (id: string) => (await api('GET', `/api/v1/training-jobs/${id}`, { key: r.adminKey })).body;
  const untilStatus = (id: string, status: string, timeoutMs?: number) => stack.untilJobStatus(id, status, timeoutMs);

  beforeAll(async () => {
    r = await isolatedResources();
    workDir = mkdtempSync(join(tmpdir(), 'mf-e2e-'));
    stack = await startTrainingStack(r, { workDir, numCases: 400, seed: 11 });
    procs.push(stack.gateway);
    ({ api, datasetId } = stack);
    db = new pg.Client({ connectionString: r.databaseUrl });
    await db.connect();
    await startWorker('worker-a');
  });

  afterAll(async () => {
    stack?.closeSockets();
    procs.forEach((p) => p.kill());
    await db?.end();
    await r.cleanup();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('trains to completion with live progress, checkpoints and a registered model that beats chance', async () => {
    const id = await submit({ epochs: 6, keepLastCheckpoints: 2, monitorMetric: 'val_auc', monitorMode: 'max' });
    const { events } = await watch(id);
    const done = await untilStatus(id, 'completed', 180_000);
    await waitFor('the completed event', async () => events.some((e) => e.type === 'status' && e.status === 'completed'));

    // No native TF.js binding installs here: the worker picks the fast CPU path (issue #5).
    expect(done.backend).toMatch(/^onnx-cpu \(\d+ threads?\)$/);
    expect(done.progress).toBe(1);
    expect(done.history.map((h: { epoch: number }) => h.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events.filter((e) => e.type === 'epoch').map((e) => (e as { epoch: number }).epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events.some((e) => e.type === 'step')).toBe(true);

    const checkpoints = (await db.query('SELECT epoch, is_best, checkpoint_path, file_size FROM training_checkpoints WHERE job_id = $1 ORDER BY epoch', [id])).rows;
    // The last two and the best are kept; the rest were deleted with their files.
    expect(checkpoints.length).toBeGreaterThanOrEqual(2);
    expect(checkpoints.length).toBeLessThanOrEqual(3);
    expect(checkpoints.filter((c) => c.is_best)).toHaveLength(1);
    expect(checkpoints.at(-1)!.epoch).toBe(6);

    const completed = events.find((e) => e.type === 'status' && e.status === 'completed') as { modelId: string };
    const model = (await api('GET', `/api/v1/models/${completed.modelId}`, { key: r.adminKey })).body;
    expect(model).toMatchObject({ trainingJobId: id, backbone: 'small_cnn', numClasses: 2, format: 'tfjs-layers', trainedEpochs: 6 });
    expect(model.fileSize).toBeGreaterThan(0);
    expect(model.metrics.test_auc).toBeGreaterThanOrEqual(0.8);
  });

  it('pauses within a step, frees the worker, and resumes at the same epoch and step', async () => {
    const id = await submit({ epochs: 3 });
    const { events } = await watch(id);
    await waitFor('a few steps', async () => events.filter((e) => e.type === 'step').length >= 2, 60_000);
    expect((await api('POST', `/api/v1/training-jobs/${id}/pause`, { key: r.adminKey })).status).toBe(200);
    const paused = await untilStatus(id, 'paused', 30_000);
    expect(paused).toMatchObject({ desiredState: null, workerId: null });
    const [ckpt] = (await db.query('SELECT epoch, step FROM training_checkpoints WHERE job_id = $1 ORDER BY created_at DESC LIMIT 1', [id])).rows;
    // Usually mid-epoch; a pause that lands on an epoch boundary checkpoints at step 0 (1 in 9 here,
    // more on a loaded machine). Either way the resumed run must continue at the very next step.
    expect(ckpt.step).toBeGreaterThanOrEqual(0);

    const before = events.length;
    expect((await api('POST', `/api/v1/training-jobs/${id}/resume`, { key: r.adminKey })).body.status).toBe('queued');
    await untilStatus(id, 'completed', 120_000);
    // The first step after a (re)start is never throttled away.
    const firstStep = events.slice(before).find((e) => e.type === 'step') as { epoch: number; step: number };
    expect(firstStep).toMatchObject({ epoch: ckpt.epoch + 1, step: ckpt.step + 1 });
    expect((await job(id)).history.map((h: { epoch: number }) => h.epoch)).toEqual([1, 2, 3]);
  });

  it('stops a running job with a checkpoint', async () => {
    const id = await submit({ epochs: 3 });
    const { events } = await watch(id);
    await waitFor('a step', async () => events.some((e) => e.type === 'step'), 60_000);
    await api('POST', `/api/v1/training-jobs/${id}/stop`, { key: r.adminKey });
    const stopped = await untilStatus(id, 'stopped', 30_000);
    expect(stopped.completedAt).not.toBeNull();
    expect((await db.query('SELECT count(*)::int AS n FROM training_checkpoints WHERE job_id = $1', [id])).rows[0].n).toBeGreaterThan(0);
  });

  it('a job that cannot run fails with an error the user can act on, and the worker stays healthy', async () => {
    const badColumn = await api('POST', '/api/v1/training-jobs', {
      key: r.adminKey,
      body: { name: 'bad columns', dataConfig: { datasetId, clinicalColumns: ['age', 'tumour_grade'] }, trainingConfig: { epochs: 1 } },
    });
    const failed = await untilStatus(badColumn.body.id, 'failed', 60_000);
    expect(failed.error).toMatch(/clinical.csv, line 1, column "tumour_grade": has no column "tumour_grade"/);

    // Registered while it was there (a path must exist under a data root), then moved away.
    mkdirSync(join(workDir, 'not-there'));
    const missing = await api('POST', '/api/v1/datasets', {
      key: r.adminKey,
      body: { name: 'moved', dataPath: join(workDir, 'not-there'), numSamples: 10, numClasses: 2 },
    });
    expect(missing.status).toBe(201);
    rmSync(join(workDir, 'not-there'), { recursive: true });
    const lost = await submitTo(missing.body.id, { epochs: 1 });
    expect((await untilStatus(lost, 'failed', 60_000)).error).toMatch(/dataPath ".*not-there" does not exist/);

    // The same worker still trains the next job.
    const ok = await submit({ epochs: 1 });
    await untilStatus(ok, 'completed', 60_000);
  });

  it('a socket cannot join the room of another owner’s job', async () => {
    const mk = async (owner: string) =>
      (await api('POST', '/api/v1/api-keys', { key: r.adminKey, body: { name: owner, role: 'member', owner } })).body.key as string;
    const alice = await mk('alice');
    const bob = await mk('bob');
    const id = await submit({ epochs: 1 }, alice);
    await api('POST', `/api/v1/training-jobs/${id}/stop`, { key: alice });
    // Answered like a missing job, so a socket cannot probe which job ids exist.
    await expect(watch(id, bob)).rejects.toThrow(`training job ${id} not found`);
    await expect(watch(id, alice)).resolves.toBeDefined();
    await expect(watch(id, 'not-a-key')).rejects.toThrow(/unauthorized/);
  });

  it('a worker killed with SIGKILL mid-training: another worker resumes from the last checkpoint, no epoch lost or repeated', async () => {
    procs.filter((p) => p.proc.exitCode === null && p.output().includes('worker-a')).forEach((p) => p.proc.kill('SIGTERM'));
    const victim = await startWorker('victim');
    const id = await submit({ epochs: 4 });
    await waitFor('epoch 2 checkpoint', async () => {
      const rows = (await db.query('SELECT epoch FROM training_checkpoints WHERE job_id = $1', [id])).rows;
      return rows.some((c) => c.epoch >= 2);
    }, 120_000, 100);
    expect((await job(id)).workerId).toBe('victim');
    victim.proc.kill('SIGKILL');
    await victim.exited;

    const rescuer = await startWorker('rescuer');
    const done = await untilStatus(id, 'completed', 180_000);
    expect(rescuer.output()).toMatch(/resuming from checkpoint/);
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    expect(done.history.map((h: { epoch: number }) => h.epoch)).toEqual([1, 2, 3, 4]);
    const [resumed] = (await db.query(`SELECT min(epoch)::int AS first FROM training_checkpoints WHERE job_id = $1`, [id])).rows;
    expect(resumed.first).toBeGreaterThanOrEqual(1);
  });

  it('on SIGTERM a worker checkpoints, hands the job back and exits 0; another worker finishes it', async () => {
    procs.filter((p) => p.proc.exitCode === null && /"workerId":"(rescuer|worker-a)"/.test(p.output())).forEach((p) => p.proc.kill('SIGTERM'));
    const leaver = await startWorker('leaver');
    // Small batches: many short steps per epoch, so SIGTERM lands mid-epoch even on the fast CPU
    // path, where the epoch-end work (validation, checkpoint) takes most of the time.
    const id = await submit({ epochs: 3, batchSize: 4 });
    const { events } = await watch(id);
    await waitFor('a few steps', async () => events.filter((e) => e.type === 'step').length >= 2, 60_000);
    leaver.proc.kill('SIGTERM');
    expect(await leaver.exited).toBe(0);
    expect(leaver.output()).toMatch(/checkpointed and handed back/);
    const [ckpt] = (await db.query('SELECT epoch, step FROM training_checkpoints WHERE job_id = $1 ORDER BY created_at DESC LIMIT 1', [id])).rows;
    // Usually mid-epoch; a pause that lands on an epoch boundary checkpoints at step 0 (1 in 9 here,
    // more on a loaded machine). Either way the resumed run must continue at the very next step.
    expect(ckpt.step).toBeGreaterThanOrEqual(0);
    expect(['queued', 'running']).toContain((await job(id)).status);

    await startWorker('heir');
    const done = await untilStatus(id, 'completed', 120_000);
    expect(done.history.map((h: { epoch: number }) => h.epoch)).toEqual([1, 2, 3]);
  });
});
