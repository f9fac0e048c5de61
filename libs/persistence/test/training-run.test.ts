import type { DataSource } from 'typeorm';
import { LostOwnershipError, openDatabase, TrainingCheckpointRepository, TrainingRunRepository } from '@medfusion/persistence';
import { isolatedResources, type IsolatedResources } from '@medfusion/testing';

/** The worker's writes to a job's row: claims, fencing, history and checkpoints. */
describe('training runs in Postgres', () => {
  let r: IsolatedResources;
  let ds: DataSource;
  let runs: TrainingRunRepository;
  let checkpoints: TrainingCheckpointRepository;

  beforeAll(async () => {
    r = await isolatedResources();
    ds = await openDatabase({ url: r.databaseUrl, migrate: true, poolSize: 3 });
    runs = new TrainingRunRepository(ds);
    checkpoints = new TrainingCheckpointRepository(ds);
  });
  afterAll(async () => {
    await ds.destroy();
    await r.cleanup();
  });

  async function newJob(status = 'queued'): Promise<string> {
    const [{ id }] = await ds.query(
      `INSERT INTO training_jobs (name, model_config, data_config, training_config, status, total_epochs, owner)
       VALUES ('j', '{}', '{}', '{"epochs": 5}', $1, 5, 'alice') RETURNING id`,
      [status],
    );
    return id;
  }
  const row = async (id: string) => (await ds.query(`SELECT * FROM training_jobs WHERE id = $1`, [id]))[0];
  const epoch = (n: number) => ({ epoch: n, metrics: { val_loss: 1 / n } });

  it('claims queued jobs, counts attempts, and refuses paused or finished ones', async () => {
    const id = await newJob();
    const first = await runs.claim(id, 'w1');
    expect(first.claimed && first.fence).toEqual({ jobId: id, workerId: 'w1', attempt: 1 });
    expect(await row(id)).toMatchObject({ status: 'running', worker_id: 'w1', attempts: 1 });
    // The queue re-delivers a job only after its worker's lock expired: a second worker takes over.
    const second = await runs.claim(id, 'w2');
    expect(second.claimed && second.fence.attempt).toBe(2);

    for (const status of ['paused', 'completed', 'stopped', 'failed']) {
      expect((await runs.claim(await newJob(status), 'w1')).claimed).toBe(false);
    }
  });

  /** A slot of `worker` holding `jobId` (as takeForSingle leaves it), heartbeated `agoMs` ago. */
  async function slot(worker: string, jobId: string | null, agoMs = 0, n = 0): Promise<void> {
    await ds.query(
      `INSERT INTO worker_slots (worker_id, slot, host, state, job_id, heartbeat_at) VALUES ($1, $4, 'h', $2, $3, now() - make_interval(secs => $5::double precision / 1000))
       ON CONFLICT (worker_id, slot) DO UPDATE SET state = EXCLUDED.state, job_id = EXCLUDED.job_id, heartbeat_at = EXCLUDED.heartbeat_at`,
      [worker, jobId ? 'single' : 'idle', jobId, n, agoMs],
    );
  }

  it('never takes over a running job that a live slot of its worker holds; a dead worker’s job is claimable once', async () => {
    const ttl = new TrainingRunRepository(ds, { heartbeatTtlMs: 5000 });
    const id = await newJob();
    await slot('live', id);
    const first = await ttl.claim(id, 'live');
    expect(first.claimed).toBe(true);
    // The queue delivers the job a second time (a lock that lapsed while the worker still runs it).
    await slot('other', id);
    expect((await ttl.claim(id, 'other')).claimed).toBe(false);
    expect(await row(id)).toMatchObject({ worker_id: 'live', attempts: 1 });

    // The worker stops heartbeating: the job can be taken over, by one of two racing workers only.
    await slot('live', id, 6000);
    await slot('w3', id);
    await slot('w4', id);
    const claims = await Promise.all([ttl.claim(id, 'w3'), ttl.claim(id, 'w4')]);
    expect(claims.filter((c) => c.claimed)).toHaveLength(1);
    expect((await row(id)).attempts).toBe(2);
  });

  it('requeues the running single jobs of dead workers once, voiding their fence', async () => {
    const ttl = new TrainingRunRepository(ds, { heartbeatTtlMs: 5000 });
    const dead = await newJob();
    const alive = await newJob();
    const gang = await newJob();
    await ds.query(`UPDATE training_jobs SET training_config = '{"epochs": 5, "resources": {"workers": 2}}' WHERE id = $1`, [gang]);
    await slot('doomed', dead, 0, 0);
    await slot('healthy', alive, 0, 0);
    const a = await ttl.claim(dead, 'doomed');
    const b = await ttl.claim(alive, 'healthy');
    await ds.query(`UPDATE training_jobs SET status = 'running', worker_id = 'doomed', attempts = 1 WHERE id = $1`, [gang]);
    if (!a.claimed || !b.claimed) throw new Error('claims failed');
    await ttl.recordEpoch(a.fence, epoch(1), 0.2);
    // Jobs the other tests left running without a slot are requeued too; only these three matter here.
    const mine = (runs: Array<{ jobId: string }>) => runs.filter((o) => [dead, alive, gang].includes(o.jobId));
    expect(mine(await ttl.requeueOrphaned())).toEqual([]);

    await slot('doomed', dead, 6000, 0);
    const requeued = await Promise.all([ttl.requeueOrphaned(), ttl.requeueOrphaned()]);
    // Only the dead worker's single job (gangs are the gang scheduler's), and only once.
    expect(mine(requeued.flat())).toEqual([{ jobId: dead, workerId: 'doomed', attempt: 1 }]);
    expect(await row(dead)).toMatchObject({ status: 'queued', worker_id: null, current_epoch: 1 });
    expect((await row(dead)).scheduling_note).toMatch(/worker doomed stopped heartbeating/);
    expect(await row(alive)).toMatchObject({ status: 'running', worker_id: 'healthy' });
    // The zombie's writes fail; the next claim gets a new attempt.
    await expect(ttl.recordEpoch(a.fence, epoch(2), 0.4)).rejects.toThrow(LostOwnershipError);
    await slot('heir', dead, 0, 0);
    const heir = await ttl.claim(dead, 'heir');
    expect(heir.claimed && heir.fence.attempt).toBe(2);
    expect(await row(dead)).toMatchObject({ status: 'running', worker_id: 'heir', scheduling_note: null });
  });

  it('fences every write: a worker that lost the job cannot change it', async () => {
    const id = await newJob();
    const old = await runs.claim(id, 'w1');
    const current = await runs.claim(id, 'w2');
    if (!old.claimed || !current.claimed) throw new Error('claims failed');
    await expect(runs.recordEpoch(old.fence, epoch(1), 0.2)).rejects.toThrow(LostOwnershipError);
    await expect(runs.fail(old.fence, 'late')).rejects.toThrow(/no longer owns/);
    await runs.recordEpoch(current.fence, epoch(1), 0.2);
    expect(await row(id)).toMatchObject({ status: 'running', current_epoch: 1, worker_id: 'w2' });
  });

  it('keeps one history entry per epoch, and truncation drops epochs after a checkpoint', async () => {
    const id = await newJob();
    const claim = await runs.claim(id, 'w1');
    if (!claim.claimed) throw new Error('claim failed');
    for (const n of [1, 2, 3]) await runs.recordEpoch(claim.fence, epoch(n), n / 5);
    await runs.recordEpoch(claim.fence, { epoch: 2, metrics: { val_loss: 0.1 } }, 0.4); // epoch 2 again
    let history = (await row(id)).history as Array<{ epoch: number; metrics: { val_loss: number } }>;
    expect(history.map((h) => h.epoch)).toEqual([1, 2, 3]);
    expect(history[1]!.metrics.val_loss).toBe(0.1);

    await runs.truncateHistory(claim.fence, 1);
    history = (await row(id)).history;
    expect(history.map((h) => h.epoch)).toEqual([1]);
    expect((await row(id)).current_epoch).toBe(1);
  });

  it('completes a job and registers its model in one transaction', async () => {
    const id = await newJob();
    const claim = await runs.claim(id, 'w1');
    if (!claim.claimed) throw new Error('claim failed');
    const model = await runs.complete(
      claim.fence,
      {
        name: 'm', description: '', backbone: 'small_cnn', numClasses: 2, inputShape: { image: [64, 64, 1] }, accuracy: 0.9, loss: 0.3,
        metrics: { test_auc: 0.95 }, modelPath: '/a/model.json', fileSize: 123, format: 'tfjs-layers', trainingJobId: id, trainedEpochs: 5,
        createdBy: 'alice', tags: [],
      },
      { test_auc: 0.95 },
    );
    expect(await row(id)).toMatchObject({ status: 'completed', progress: 1, model_path: '/a/model.json', worker_id: null });
    expect((await row(id)).current_metrics).toMatchObject({ test_auc: 0.95 });
    expect(model.trainingJobId).toBe(id);
    // A completed job is final: a late hand-back is refused.
    await expect(runs.handBack(claim.fence)).rejects.toThrow(LostOwnershipError);
  });

  it('tracks the best checkpoint by the monitored metric and prunes all but the last K and the best', async () => {
    const id = await newJob();
    const monitored = { metric: 'val_auc', mode: 'max' as const };
    const aucs = [0.6, 0.9, 0.7, 0.8, 0.75];
    for (const [i, auc] of aucs.entries()) {
      await checkpoints.add({ jobId: id, epoch: i + 1, step: 0, metrics: { val_auc: auc }, checkpointPath: `/c/${i + 1}`, fileSize: 10, monitored });
    }
    // A mid-epoch checkpoint (pause) is never "best", whatever its metrics say.
    await checkpoints.add({ jobId: id, epoch: 5, step: 3, metrics: { val_auc: 0.99 }, checkpointPath: '/c/5.3', fileSize: 10, monitored: null });
    const best = (await checkpoints.list(id)).filter((c) => c.isBest);
    expect(best.map((c) => c.epoch)).toEqual([2]);

    const deleted = await checkpoints.prune(id, 2);
    expect(deleted.sort()).toEqual(['/c/1', '/c/3', '/c/4']);
    expect((await checkpoints.list(id)).map((c) => c.checkpointPath)).toEqual(['/c/2', '/c/5', '/c/5.3']);
    expect((await checkpoints.latest(id))?.checkpointPath).toBe('/c/5.3');
  });
});
