import { jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import { SWEEP_SOCKET_EVENTS, type SweepEvent } from '@medfusion/contracts';
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
} from '@medfusion/testing';

/**
 * A hyper-parameter sweep end to end with real processes: the gateway, two gpu-workers and the
 * scheduler (which drives the sweep) on a small synthetic data set. Seven trials over the learning
 * rate (log) and the fusion strategy, two at a time, with the median pruner; the scheduler is
 * killed mid-sweep and a new one carries on from the rows.
 *
 * The prune is made deterministic by the order of enqueued trials: two sensible ones run first, and
 * the third (learning rate 1e-6, so the model stays near its initial loss) starts only once one of
 * them has completed, so the median rule (one complete trial needed) compares it with a trial that
 * learned.
 */
jest.setTimeout(240_000);

const LR = 'trainingConfig.learningRate';
const FUSION = 'modelConfig.fusion';

describe('sweeps end to end (real processes)', () => {
  let r: IsolatedResources;
  let api: ApiClient;
  let db: pg.Client;
  let gatewayUrl: string;
  let datasetId: string;
  let workDir: string;
  const procs: AppProcess[] = [];
  const sockets: Socket[] = [];

  async function startApp(app: 'gpu-worker' | 'scheduler', name: string): Promise<AppProcess> {
    const port = await freePort();
    const portVar = app === 'gpu-worker' ? 'GPU_WORKER_HEALTH_PORT' : 'SCHEDULER_HEALTH_PORT';
    const p = startAppProcess(
      app,
      envForChild(r, {
        [portVar]: String(port),
        WORKER_ID: name,
        ARTIFACTS_DIR: join(workDir, 'artifacts'),
        // Two workers share the two cores.
        COMPUTE_THREADS: '1',
        RECONCILE_INTERVAL_MS: '2000',
      }),
    );
    procs.push(p);
    await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, p);
    return p;
  }

  beforeAll(async () => {
    r = await isolatedResources();
    workDir = mkdtempSync(join(tmpdir(), 'mf-sweep-e2e-'));
    const stack = await startTrainingStack(r, { workDir, numCases: 120, seed: 5 });
    procs.push(stack.gateway);
    ({ api, datasetId, gatewayUrl } = stack);
    db = new pg.Client({ connectionString: r.databaseUrl });
    await db.connect();
    await Promise.all([startApp('gpu-worker', 'worker-a'), startApp('gpu-worker', 'worker-b')]);
  });

  afterAll(async () => {
    sockets.forEach((s) => s.close());
    procs.forEach((p) => p.kill());
    await db?.end();
    await r.cleanup();
    rmSync(workDir, { recursive: true, force: true });
  });

  function watch(sweepId: string): Promise<SweepEvent[]> {
    const events: SweepEvent[] = [];
    const socket = io(gatewayUrl, { auth: { token: r.adminKey }, transports: ['websocket'] });
    sockets.push(socket);
    socket.on(SWEEP_SOCKET_EVENTS.sweep, (e: SweepEvent) => events.push(e));
    return new Promise((resolve, reject) => {
      socket.on('connect_error', reject);
      socket.on('connect', () =>
        socket.emit(SWEEP_SOCKET_EVENTS.subscribe, { sweepId }, (ack: { ok: boolean; error?: string }) => (ack.ok ? resolve(events) : reject(new Error(ack.error)))),
      );
    });
  }

  const baseJob = (batchSize: number) => ({
    dataConfig: { datasetId },
    modelConfig: { imageSize: 32, convFilters: [4, 8], imageFeatureSize: 16, clinicalHiddenSize: 16, fusedSize: 16, dropout: 0 },
    // Five epochs: the pruned trial's stop (after its first epoch) must reach its worker before the job ends, even on a loaded machine.
    trainingConfig: { epochs: 5, batchSize },
  });

  const trials = async (id: string) => (await api('GET', `/api/v1/sweeps/${id}/trials?limit=1000`, { key: r.adminKey })).body.items as Array<Record<string, any>>;

  it('runs 7 trials two at a time, prunes the hopeless one, survives a scheduler restart, and ends with a best trial and its model', async () => {
    // The sweep is created before any scheduler runs: its row waits in Postgres.
    const created = await api('POST', '/api/v1/sweeps', {
      key: r.adminKey,
      body: {
        name: 'e2e sweep',
        searchSpace: {
          [LR]: { type: 'float', low: 1e-6, high: 0.05, log: true },
          [FUSION]: { type: 'categorical', choices: ['concatenate', 'gated', 'late'] },
        },
        objectives: [{ metric: 'val_loss', direction: 'minimize' }],
        sampler: { type: 'random' },
        pruner: { type: 'median', options: { nStartupTrials: 1 } },
        budget: { maxTrials: 7 },
        parallelism: 2,
        seed: 3,
        baseTrainingJob: baseJob(8),
        enqueueTrials: [
          { [LR]: 0.01, [FUSION]: 'concatenate' },
          { [LR]: 0.02, [FUSION]: 'concatenate' },
          { [LR]: 1e-6, [FUSION]: 'concatenate' },
        ],
      },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const events = await watch(id);

    let scheduler = await startApp('scheduler', 'scheduler-1');
    await waitFor('the hopeless trial to be pruned', async () => (await trials(id)).some((t) => t.number === 2 && t.state !== 'running' && t.state !== 'waiting'), 150_000, 250);

    // The driver dies mid-sweep; a new one continues from the rows.
    scheduler.proc.kill('SIGKILL');
    await scheduler.exited;
    scheduler = await startApp('scheduler', 'scheduler-2');

    const done = await waitFor(
      'the sweep to end',
      async () => {
        const s = (await api('GET', `/api/v1/sweeps/${id}`, { key: r.adminKey })).body;
        return s.status === 'running' ? null : s;
      },
      180_000,
      500,
    );
    expect(done).toMatchObject({ status: 'completed', finishReason: 'max_trials', error: null });

    const all = await trials(id);
    expect(all.map((t) => t.number)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(new Set(all.map((t) => t.trainingJobId)).size).toBe(7);

    // The hopeless trial was pruned after its first epoch, and its job stopped through training control.
    const hopeless = all[2]!;
    expect(hopeless).toMatchObject({ state: 'pruned', params: { [LR]: 1e-6, [FUSION]: 'concatenate' } });
    expect(hopeless.prunerDecisions[0]).toEqual({ step: 1, prune: true });
    const stoppedJob = await waitFor('the pruned trial’s job to stop', async () => {
      const j = (await api('GET', `/api/v1/training-jobs/${hopeless.trainingJobId}`, { key: r.adminKey })).body;
      return j.status === 'stopped' ? j : null;
    }, 30_000);
    expect(stoppedJob.history.length).toBeLessThan(5);

    // Every decision is recorded; every trial's job was built from its parameters.
    for (const t of all) {
      const job = (await api('GET', `/api/v1/training-jobs/${t.trainingJobId}`, { key: r.adminKey })).body;
      expect(job.trainingConfig.learningRate).toBe(t.params[LR]);
      expect(job.modelConfig.fusion).toBe(t.params[FUSION]);
      if (t.state === 'complete') {
        expect(job.status).toBe('completed');
        expect(t.values).toEqual([job.currentMetrics.val_loss]);
        expect(Object.keys(t.intermediateValues)).toEqual(['1', '2', '3', '4', '5']);
        expect(t.prunerDecisions.map((d: { step: number }) => d.step).every((s: number) => s >= 1 && s <= 5)).toBe(true);
      }
    }
    // Never more than `parallelism` trials at once.
    const edges = all.flatMap((t) => [
      { at: Date.parse(t.startedAt), d: 1 },
      { at: Date.parse(t.finishedAt), d: -1 },
    ]);
    edges.sort((a, b) => a.at - b.at || a.d - b.d);
    let live = 0;
    let peak = 0;
    for (const e of edges) peak = Math.max(peak, (live += e.d));
    expect(peak).toBeLessThanOrEqual(2);

    // The best trial is the complete one with the lowest val_loss, and its model is registered.
    const complete = all.filter((t) => t.state === 'complete');
    const lowest = Math.min(...complete.map((t) => t.values[0]));
    expect(done.bestTrial).toMatchObject({ state: 'complete', values: [lowest] });
    expect(done.bestTrialId).toBe(done.bestTrial.id);
    const model = await api('GET', `/api/v1/models/${done.bestTrial.modelId}`, { key: r.adminKey });
    expect(model.status).toBe(200);
    expect(model.body.trainingJobId).toBe(done.bestTrial.trainingJobId);

    // Watchers saw it happen.
    await waitFor('the final status event', async () => events.some((e) => e.type === 'sweep-status' && e.status === 'completed'), 10_000);
    expect(events.some((e) => e.type === 'trial-pruned' && e.number === 2 && e.step === 1)).toBe(true);
    expect(events.some((e) => e.type === 'trial-reported')).toBe(true);
    expect(new Set(events.filter((e) => e.type === 'trial-started').map((e) => (e as { number: number }).number)).size).toBeGreaterThanOrEqual(6);
  });

  it('stops a running sweep: its trials’ jobs stop on the workers and no trial starts after the stop', async () => {
    const created = await api('POST', '/api/v1/sweeps', {
      key: r.adminKey,
      body: {
        name: 'e2e stop',
        searchSpace: { [LR]: { type: 'float', low: 1e-3, high: 0.05, log: true } },
        objectives: [{ metric: 'val_loss', direction: 'minimize' }],
        sampler: { type: 'random' },
        budget: { maxTrials: 20 },
        parallelism: 2,
        // Small batches: many steps per epoch, so the stop lands mid-training.
        baseTrainingJob: baseJob(2),
      },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const events = await watch(id);
    await waitFor('two trials training', async () => {
      const running = (await trials(id)).filter((t) => t.state === 'running');
      if (running.length < 2) return false;
      const jobs = await Promise.all(running.map(async (t) => (await api('GET', `/api/v1/training-jobs/${t.trainingJobId}`, { key: r.adminKey })).body));
      return jobs.every((j) => j.status === 'running');
    }, 60_000, 250);

    const stop = await api('POST', `/api/v1/sweeps/${id}/stop`, { key: r.adminKey });
    expect(stop.status).toBe(200);
    expect(stop.body.status).toBe('stopping');
    const startedBefore = events.filter((e) => e.type === 'trial-started').length;
    const numbersBefore = (await trials(id)).map((t) => t.number);

    const done = await waitFor('the sweep to stop', async () => {
      const s = (await api('GET', `/api/v1/sweeps/${id}`, { key: r.adminKey })).body;
      return s.status === 'stopping' ? null : s;
    }, 60_000, 250);
    expect(done).toMatchObject({ status: 'stopped', finishReason: 'stopped' });
    const all = await trials(id);
    expect(all.map((t) => t.number)).toEqual(numbersBefore);
    expect(events.filter((e) => e.type === 'trial-started')).toHaveLength(startedBefore);
    const stopped = all.filter((t) => t.state === 'stopped');
    expect(stopped.length).toBeGreaterThanOrEqual(1);
    for (const t of stopped) {
      const job = (await api('GET', `/api/v1/training-jobs/${t.trainingJobId}`, { key: r.adminKey })).body;
      expect(job).toMatchObject({ status: 'stopped', desiredState: null });
    }
    expect(all.every((t) => t.state === 'stopped' || t.state === 'complete')).toBe(true);
  });
});
