import { jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TrainingRank } from '@medfusion/contracts';
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
 * Multi-worker (gang) training with real processes: the gateway, the scheduler admitting gangs and
 * gpu-workers whose ranks all-reduce over gRPC on 127.0.0.1, against the test's own database and
 * Redis prefix. Needs `npm run build` (the apps' dist is what runs).
 */
jest.setTimeout(300_000);

const DEADLINE_MS = 20_000;

describe('multi-worker training jobs end to end (real processes)', () => {
  let r: IsolatedResources;
  let stack: TrainingStack;
  let api: ApiClient;
  let db: pg.Client;
  let datasetId: string;
  let workDir: string;
  const procs: AppProcess[] = [];
  const workers = new Map<string, AppProcess>();
  let scheduler: AppProcess;

  async function startApp(app: string, extra: Record<string, string>, healthVar: string): Promise<AppProcess> {
    const port = await freePort();
    const p = startAppProcess(app, envForChild(r, { [healthVar]: String(port), ARTIFACTS_DIR: join(workDir, 'artifacts'), ...extra }));
    procs.push(p);
    await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, p, 60_000);
    return p;
  }

  async function startWorker(name: string, extra: Record<string, string> = {}): Promise<AppProcess> {
    const p = await startApp(
      'gpu-worker',
      {
        ...extra,
        WORKER_ID: name,
        WORKER_HEARTBEAT_MS: '250',
        COMPUTE_THREADS: '1',
        COLLECTIVE_ADVERTISE_HOST: '127.0.0.1',
        COLLECTIVE_BIND_HOST: '127.0.0.1',
        COLLECTIVE_DEADLINE_MS: String(DEADLINE_MS),
        COLLECTIVE_JOIN_TIMEOUT_MS: '30000',
        TRAINING_LOCK_DURATION_MS: '4000',
        TRAINING_STALLED_INTERVAL_MS: '1000',
        SHUTDOWN_TIMEOUT_MS: '60000',
      },
      'GPU_WORKER_HEALTH_PORT',
    );
    workers.set(name, p);
    return p;
  }

  const watch = async (jobId: string) => (await stack.watchJob(jobId)).events;

  async function submit(trainingConfig: Record<string, unknown>): Promise<string> {
    const res = await api('POST', '/api/v1/training-jobs', {
      key: r.adminKey,
      body: {
        name: 'gang e2e',
        dataConfig: { datasetId },
        // No dropout, no BatchNorm in the image branch: the replicas stay bit-identical (checked every epoch).
        modelConfig: { imageSize: 32, convFilters: [4, 8], imageFeatureSize: 16, clinicalHiddenSize: 16, fusedSize: 16, dropout: 0 },
        trainingConfig: { batchSize: 32, learningRate: 0.01, seed: 3, ...trainingConfig },
      },
    });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  const job = async (id: string) => (await api('GET', `/api/v1/training-jobs/${id}`, { key: r.adminKey })).body;
  const untilStatus = (id: string, status: string, timeoutMs = 150_000) => stack.untilJobStatus(id, status, timeoutMs);

  beforeAll(async () => {
    r = await isolatedResources();
    workDir = mkdtempSync(join(tmpdir(), 'mf-gang-'));
    stack = await startTrainingStack(r, { workDir, numCases: 400, seed: 11 });
    procs.push(stack.gateway);
    ({ api, datasetId } = stack);
    db = new pg.Client({ connectionString: r.databaseUrl });
    await db.connect();
    scheduler = await startApp('scheduler', { GANG_SCHEDULE_INTERVAL_MS: '250', WORKER_HEARTBEAT_TTL_MS: '3000', GANG_RESERVE_AFTER_MS: '600000' }, 'SCHEDULER_HEALTH_PORT');
    await Promise.all([startWorker('worker-a'), startWorker('worker-b')]);
  });

  afterAll(async () => {
    stack?.closeSockets();
    procs.forEach((p) => p.kill());
    await db?.end();
    await r?.cleanup();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  /** Runs a test body; on failure prints what the processes logged (the only account of what happened), then fails. */
  const withLogs = (body: () => Promise<void>) => async () => {
    try {
      await body();
    } catch (error) {
      procs.forEach((p, i) => console.log(`--- process ${i}\n${p.output().slice(-6000)}`));
      throw error;
    }
  };

  it('trains one job on two workers: both ranks shown over REST and Socket.IO, per-rank throughput, one model', withLogs(async () => {
    const id = await submit({ epochs: 3, resources: { workers: 2 } });
    const events = await watch(id);
    const done = await untilStatus(id, 'completed');

    expect(done.history.map((h: { epoch: number }) => h.epoch)).toEqual([1, 2, 3]);
    expect(done.backend).toMatch(/^onnx-cpu/);
    expect(done.restarts).toBe(0);
    const ranks = done.ranks as TrainingRank[];
    expect(ranks.map((x) => x.rank)).toEqual([0, 1]);
    expect(new Set(ranks.map((x) => x.workerId))).toEqual(new Set(['worker-a', 'worker-b']));
    expect(ranks.every((x) => x.status === 'finished' && x.host === '127.0.0.1' && (x.port ?? 0) > 0 && (x.samplesPerSecond ?? 0) > 0)).toBe(true);
    expect(done.workerId).toBeNull();
    expect(JSON.stringify(done)).not.toMatch(/token/i); // the collective secret never leaves the backend

    // The room saw the gang (admission and joined) and each epoch's per-rank throughput.
    await waitFor('the completed event', async () => events.some((e) => e.type === 'status' && e.status === 'completed'));
    const withRanks = events.filter((e) => e.type === 'status' && e.ranks?.length === 2);
    expect(withRanks.length).toBeGreaterThanOrEqual(1);
    const epochs = events.filter((e) => e.type === 'epoch');
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    for (const e of epochs) {
      expect(e.rankSamplesPerSecond).toHaveLength(2);
      expect(e.samplesPerSecond).toBeCloseTo(e.rankSamplesPerSecond!.reduce((a, b) => a + b, 0), 6);
    }
    const models = (await db.query('SELECT trained_epochs FROM models WHERE training_job_id = $1', [id])).rows;
    expect(models).toEqual([{ trained_epochs: 3 }]);
    // Both slots are free again once the ranks' threads have ended.
    await waitFor('both slots free', async () => (await db.query(`SELECT count(*)::int AS n FROM worker_slots WHERE state = 'idle'`)).rows[0].n === 2, 10_000);
  }));

  it('keeps single-worker jobs flowing while a gang waits for more workers than are running, and says why it waits', withLogs(async () => {
    const gang = await submit({ epochs: 1, resources: { workers: 3 } });
    await waitFor('the waiting note', async () => /only 2 worker slots are running/.test((await job(gang)).schedulingNote ?? ''), 15_000);
    const single = await submit({ epochs: 1 });
    await untilStatus(single, 'completed');
    expect((await job(gang)).status).toBe('queued');
    // A queued gang stops at once; nothing was reserved for it.
    expect((await api('POST', `/api/v1/training-jobs/${gang}/stop`, { key: r.adminKey })).body.status).toBe('stopped');
    expect((await db.query(`SELECT count(*)::int AS n FROM worker_slots WHERE state <> 'idle'`)).rows[0].n).toBe(0);
  }));

  it('recovers from a SIGKILLed rank: the survivor notices within the deadline, a new gang resumes from the last checkpoint', withLogs(async () => {
    await startWorker('worker-c');
    // Long enough that the kill always lands mid-training, even on a loaded machine (~0.25 s per epoch here).
    const id = await submit({ epochs: 40, checkpointEvery: 1, keepLastCheckpoints: 50, resources: { workers: 2 } });
    const events = await watch(id);
    await waitFor('a checkpoint', async () => events.some((e) => e.type === 'checkpoint' && e.epoch >= 1), 120_000);
    const first = (await job(id)) as { ranks: TrainingRank[] };
    const victim = first.ranks.find((x) => x.rank === 1)!;
    const survivor = first.ranks.find((x) => x.rank === 0)!;
    workers.get(victim.workerId)!.proc.kill('SIGKILL');
    const killedAt = Date.now();
    workers.delete(victim.workerId);

    // Rank 0 loses its peer: its rank fails with the collective's error, within the deadline.
    const failed = await waitFor(
      'rank 0 to notice',
      async () => (await db.query(`SELECT status, error, updated_at FROM training_job_ranks WHERE job_id = $1 AND rank = 0 AND status = 'failed'`, [id])).rows[0],
      DEADLINE_MS + 10_000,
      50,
    );
    expect(failed.error).toMatch(/PEER_LEFT|DEADLINE_EXCEEDED|peer/i);
    const noticedMs = new Date(failed.updated_at).getTime() - killedAt;
    console.log(`gang recovery: rank 0 recorded the lost peer ${noticedMs} ms after the SIGKILL (${failed.error.slice(0, 160)})`);
    expect(noticedMs).toBeLessThan(DEADLINE_MS + 10_000);

    const done = await untilStatus(id, 'completed', 240_000);
    expect(done.restarts).toBe(1);
    expect(done.history.map((h: { epoch: number }) => h.epoch)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const ranks = done.ranks as TrainingRank[];
    expect(ranks.map((x) => x.workerId)).not.toContain(victim.workerId);
    expect(ranks.map((x) => x.workerId)).toContain(survivor.workerId);
    // The new gang resumed from a checkpoint written before the kill, not from scratch.
    const [resumed] = (await db.query(
      `SELECT c.epoch, r.attempt FROM training_job_ranks r JOIN training_checkpoints c ON c.id = r.resume_checkpoint_id WHERE r.job_id = $1 AND r.rank = 0`,
      [id],
    )).rows;
    expect(resumed.epoch).toBeGreaterThanOrEqual(1);
    expect(resumed.attempt).toBe(2);
    // The room heard why the gang restarted: the survivor's collective error names the lost peer.
    const restarted = events.find((e) => e.type === 'status' && e.status === 'queued' && e.note);
    expect(restarted).toMatchObject({ note: expect.stringMatching(/rank 1/) });
    const epochsAfter = events.filter((e) => e.type === 'epoch').map((e) => e.epoch);
    // Epochs after the resumed checkpoint are trained once more by the new gang, none before it.
    expect(epochsAfter.filter((e) => e <= resumed.epoch).length).toBe(resumed.epoch);
    // The dead worker's slot is removed once its heartbeat is older than WORKER_HEARTBEAT_TTL_MS.
    await waitFor('the dead slot to expire', async () => (await db.query(`SELECT count(*)::int AS n FROM worker_slots WHERE worker_id = $1`, [victim.workerId])).rows[0].n === 0, 15_000);
  }));

  it('hands a gang back in step when a worker running rank 1 gets SIGTERM: rank 0 checkpoints, a new gang continues without a restart', withLogs(async () => {
    await startWorker('worker-d');
    // Long enough that the kill always lands mid-training, even on a loaded machine (~0.25 s per epoch here).
    const id = await submit({ epochs: 40, checkpointEvery: 1, keepLastCheckpoints: 50, resources: { workers: 2 } });
    const events = await watch(id);
    await waitFor('a few steps', async () => events.filter((e) => e.type === 'step').length >= 3, 120_000);
    const first = (await job(id)) as { ranks: TrainingRank[] };
    const leaving = first.ranks.find((x) => x.rank === 1)!;
    const proc = workers.get(leaving.workerId)!;
    proc.proc.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    workers.delete(leaving.workerId);

    const done = await untilStatus(id, 'completed', 240_000);
    expect(done.restarts).toBe(0); // a hand-back is not a failure
    expect(done.history.map((h: { epoch: number }) => h.epoch)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect((done.ranks as TrainingRank[]).map((x) => x.workerId)).not.toContain(leaving.workerId);
    // The next gang resumed from a checkpoint rank 0 wrote, not from scratch.
    const [resumed] = (await db.query(
      `SELECT c.epoch, c.step FROM training_job_ranks r JOIN training_checkpoints c ON c.id = r.resume_checkpoint_id WHERE r.job_id = $1 AND r.rank = 0`,
      [id],
    )).rows;
    expect(resumed).toBeDefined();
    expect(events.some((e) => e.type === 'status' && e.status === 'queued')).toBe(true);
    expect(proc.output()).toMatch(/gang rank finished/);
  }));

  it('holds a freed worker for a gang that waited (no starvation): a single job submitted meanwhile waits until the gang has run', withLogs(async () => {
    // The scheduler again, now reserving for a gang as soon as it waits (GANG_RESERVE_AFTER_MS=0).
    scheduler.proc.kill('SIGTERM');
    await scheduler.exited;
    scheduler = await startApp('scheduler', { GANG_SCHEDULE_INTERVAL_MS: '250', WORKER_HEARTBEAT_TTL_MS: '3000', GANG_RESERVE_AFTER_MS: '0' }, 'SCHEDULER_HEALTH_PORT');
    const live = [...workers.keys()];
    // Every worker but one is busy with a long single job; the gang needs all of them.
    const long = await Promise.all(live.slice(1).map(() => submit({ epochs: 25 })));
    await waitFor('the long jobs to run', async () => (await Promise.all(long.map(job))).every((j) => j.status === 'running'), 60_000);
    const gang = await submit({ epochs: 2, resources: { workers: live.length } });
    await waitFor('the free slot held for the gang', async () => (await db.query(`SELECT count(*)::int AS n FROM worker_slots WHERE state = 'reserved' AND job_id = $1`, [gang])).rows[0].n === 1, 15_000);
    const late = await submit({ epochs: 1 });
    // The late single job does not get the held slot: it waits while the long jobs run.
    await new Promise((r) => setTimeout(r, 2000));
    expect((await job(late)).status).toBe('queued');
    const gangDone = await untilStatus(gang, 'completed', 240_000);
    const lateDone = await untilStatus(late, 'completed', 240_000);
    expect(new Date(lateDone.startedAt).getTime()).toBeGreaterThan(new Date(gangDone.startedAt).getTime());
    for (const id of long) await untilStatus(id, 'completed', 240_000);
  }));

  it('runs both ranks of a gang on one worker with two slots (one thread each), as on a 2-GPU node', withLogs(async () => {
    // Only this worker is left, so the gang can only be placed on its two slots.
    for (const [name, p] of workers) {
      p.proc.kill('SIGTERM');
      await p.exited;
      workers.delete(name);
    }
    await startWorker('worker-two-slots', { GPU_WORKER_DEVICES: '2' });
    const id = await submit({ epochs: 3, resources: { workers: 2 } });
    const done = await untilStatus(id, 'completed');
    expect((done.ranks as TrainingRank[]).map((x) => [x.rank, x.workerId, x.slot, x.status])).toEqual([
      [0, 'worker-two-slots', 0, 'finished'],
      [1, 'worker-two-slots', 1, 'finished'],
    ]);
    expect(done.history.map((h: { epoch: number }) => h.epoch)).toEqual([1, 2, 3]);
    await waitFor('both slots free', async () => (await db.query(`SELECT count(*)::int AS n FROM worker_slots WHERE worker_id = 'worker-two-slots' AND state = 'idle'`)).rows[0].n === 2, 10_000);
    // A single job runs on it afterwards (the queue consumer got its capacity back).
    await untilStatus(await submit({ epochs: 1 }), 'completed');
  }));
});
