import type { DataSource } from 'typeorm';
import type { Redis } from 'ioredis';
import { createSweepSchema, trainingControlChannel, type SweepEvent, type TrainingControlMessage } from '@medfusion/contracts';
import { openDatabase, SweepRepository, TrainingJobRepository } from '@medfusion/persistence';
import { createRedis, TrainingControlRequester, TrainingQueue } from '@medfusion/queue';
import { createLogger } from '@medfusion/runtime';
import { SweepDriver } from '@medfusion/sweeps';
import { isolatedResources, waitFor, type IsolatedResources } from '@medfusion/testing';

/**
 * The sweep driver against real Postgres and Redis. No training happens: each test writes the
 * outcome a worker would (status, per-epoch history, final metrics) straight into the training_jobs
 * rows, then lets the driver pass over the sweep.
 */
describe('sweep driver (Postgres)', () => {
  let r: IsolatedResources;
  let ds: DataSource;
  let redis: Redis;
  let subscriber: Redis;
  let queue: TrainingQueue;
  let sweeps: SweepRepository;
  let datasetId: string;
  const events: SweepEvent[] = [];
  const controlMessages: TrainingControlMessage[] = [];
  const logger = createLogger('sweep-driver-test', 'silent');
  let clock = Date.now();

  function newDriver(): SweepDriver {
    const jobs = new TrainingJobRepository(ds);
    return new SweepDriver({
      sweeps,
      queue,
      controls: new TrainingControlRequester(jobs, queue, redis, r.redisPrefix, logger),
      events: { publish: async (e) => void events.push(e) },
      logger,
      now: () => clock,
    });
  }

  beforeAll(async () => {
    r = await isolatedResources();
    ds = await openDatabase({ url: r.databaseUrl, migrate: true, poolSize: 4 });
    redis = createRedis(r.redisUrl, 'producer');
    subscriber = createRedis(r.redisUrl, 'subscriber');
    subscriber.on('message', (_ch: string, raw: string) => controlMessages.push(JSON.parse(raw)));
    await subscriber.subscribe(trainingControlChannel(r.redisPrefix));
    queue = new TrainingQueue(redis, r.redisPrefix);
    sweeps = new SweepRepository(ds);
    [{ id: datasetId }] = await ds.query(
      `INSERT INTO datasets (name, data_path, num_samples, num_classes, created_by) VALUES ('d', '/data', 10, 2, 'alice') RETURNING id`,
    );
  });
  afterAll(async () => {
    await queue.close();
    redis.disconnect();
    subscriber.disconnect();
    await ds.destroy();
    await r.cleanup();
  });

  function sweepBody(overrides: Record<string, unknown> = {}) {
    return createSweepSchema.parse({
      name: 'lr-fusion',
      searchSpace: {
        'trainingConfig.learningRate': { type: 'float', low: 1e-4, high: 1e-1, log: true },
        'modelConfig.fusion': { type: 'categorical', choices: ['concatenate', 'gated', 'late'] },
      },
      objectives: [{ metric: 'val_loss', direction: 'minimize' }],
      sampler: { type: 'random' },
      budget: { maxTrials: 5 },
      parallelism: 2,
      seed: 7,
      baseTrainingJob: { dataConfig: { datasetId }, trainingConfig: { epochs: 3 } },
      ...overrides,
    });
  }

  const trials = (sweepId: string) => sweeps.allTrials(sweepId);
  const sweepRow = async (id: string) => (await sweeps.findById(id))!;
  const jobRow = async (id: string) => (await ds.query(`SELECT * FROM training_jobs WHERE id = $1`, [id]))[0];

  /** What a worker writes while training: the job running with these epochs in its history. */
  async function report(jobId: string, curve: number[]): Promise<void> {
    const history = curve.map((v, i) => ({ epoch: i + 1, metrics: { val_loss: v, val_accuracy: 1 - v } }));
    await ds.query(`UPDATE training_jobs SET status = 'running', history = $2::jsonb, started_at = COALESCE(started_at, now()) WHERE id = $1`, [
      jobId,
      JSON.stringify(history),
    ]);
  }

  /** A worker finished the job: completed, final metrics, a registered model. */
  async function complete(jobId: string, curve: number[]): Promise<void> {
    await report(jobId, curve);
    const final = { val_loss: curve.at(-1)!, val_accuracy: 1 - curve.at(-1)! };
    await ds.query(`UPDATE training_jobs SET status = 'completed', current_metrics = $2::jsonb, completed_at = now() WHERE id = $1`, [jobId, JSON.stringify(final)]);
    await ds.query(
      `INSERT INTO models (name, backbone, num_classes, input_shape, model_path, format, training_job_id, created_by) VALUES ('m', 'small_cnn', 2, '{}', '/m', 'tfjs-layers', $1, 'alice')`,
      [jobId],
    );
  }

  const running = async (sweepId: string) => (await trials(sweepId)).filter((t) => t.state === 'running');

  it('keeps parallelism trials running, enqueued ones first, and completes at the trial budget with the best trial', async () => {
    const sweep = await sweeps.create(sweepBody({ enqueueTrials: [{ 'trainingConfig.learningRate': 0.01 }] }), 'alice');
    const driver = newDriver();
    await driver.drive(sweep.id);

    let live = await running(sweep.id);
    expect(live.map((t) => t.number)).toEqual([0, 1]);
    expect(live[0]).toMatchObject({ enqueued: true, params: { 'trainingConfig.learningRate': 0.01 } });
    // The enqueued trial's missing parameter was drawn from the space.
    expect(['concatenate', 'gated', 'late']).toContain(live[0]!.params['modelConfig.fusion']);
    for (const t of live) {
      const job = await jobRow(t.trainingJobId!);
      expect(job.status).toBe('queued');
      expect(job.training_config.learningRate).toBe(t.params['trainingConfig.learningRate']);
      expect(job.model_config.fusion).toBe(t.params['modelConfig.fusion']);
      expect(job).toMatchObject({ name: `lr-fusion trial ${t.number}`, description: `Trial ${t.number} of sweep ${sweep.id}.`, owner: 'alice' });
      expect(await queue.isLive(t.trainingJobId!)).toBe(true);
    }

    const losses = [0.6, 0.3, 0.5, 0.45, 0.7];
    for (let n = 0; n < 5; n++) {
      const t = (await trials(sweep.id)).find((x) => x.number === n)!;
      expect(t.state).toBe('running');
      await complete(t.trainingJobId!, [0.8, losses[n]!]);
      await driver.drive(sweep.id);
      const now = await trials(sweep.id);
      expect(now.filter((x) => x.state === 'running').length).toBeLessThanOrEqual(2);
      expect(now.find((x) => x.number === n)).toMatchObject({ state: 'complete', values: [losses[n]], intermediateValues: { '1': 0.8, '2': losses[n] } });
    }
    const all = await trials(sweep.id);
    expect(all.map((t) => t.number)).toEqual([0, 1, 2, 3, 4]);
    const done = await sweepRow(sweep.id);
    expect(done).toMatchObject({ status: 'completed', finishReason: 'max_trials', bestTrialId: all[1]!.id, trialCounts: { complete: 5 } });
    expect(done.finishedAt).not.toBeNull();
    expect(events.some((e) => e.type === 'sweep-status' && e.sweepId === sweep.id && e.status === 'completed')).toBe(true);
    expect(events.filter((e) => e.type === 'trial-started' && e.sweepId === sweep.id)).toHaveLength(5);
  });

  it('prunes a trial worse than the median at an epoch by requesting stop on its job, and records every decision', async () => {
    const sweep = await sweeps.create(
      sweepBody({ parallelism: 1, budget: { maxTrials: 4 }, pruner: { type: 'median', options: { nStartupTrials: 2 } } }),
      'alice',
    );
    const driver = newDriver();
    for (const curve of [[0.5, 0.4, 0.3], [0.6, 0.5, 0.4]]) {
      await driver.drive(sweep.id);
      const [t] = await running(sweep.id);
      await complete(t!.trainingJobId!, curve);
    }
    await driver.drive(sweep.id);
    const [good] = await running(sweep.id);
    expect(good!.number).toBe(2);
    // Below the median of the complete trials at epoch 1 (0.55): goes on.
    await report(good!.trainingJobId!, [0.52]);
    await driver.drive(sweep.id);
    expect((await sweeps.findTrial(good!.id))!.prunerDecisions).toEqual([{ step: 1, prune: false }]);
    await complete(good!.trainingJobId!, [0.52, 0.45, 0.35]);
    await driver.drive(sweep.id);

    const [bad] = await running(sweep.id);
    expect(bad!.number).toBe(3);
    await report(bad!.trainingJobId!, [0.9]);
    await driver.drive(sweep.id);
    const pruned = (await sweeps.findTrial(bad!.id))!;
    expect(pruned).toMatchObject({ state: 'pruned', prunerDecisions: [{ step: 1, prune: true }], intermediateValues: { '1': 0.9 } });
    // The stop request goes through the training control path: desired state plus a control message.
    expect((await jobRow(bad!.trainingJobId!)).desired_state).toBe('stop');
    await waitFor('the stop message', async () => controlMessages.some((m) => m.trainingJobId === bad!.trainingJobId && m.action === 'stop'), 5000);
    expect(events.some((e) => e.type === 'trial-pruned' && e.trialId === bad!.id && e.step === 1 && e.value === 0.9)).toBe(true);

    // The worker acts on it; the budget is spent and nothing runs: the sweep completes.
    await ds.query(`UPDATE training_jobs SET status = 'stopped', desired_state = NULL WHERE id = $1`, [bad!.trainingJobId]);
    await driver.drive(sweep.id);
    expect(await sweepRow(sweep.id)).toMatchObject({ status: 'completed', trialCounts: { complete: 3, pruned: 1 } });
    expect((await sweeps.findTrial(bad!.id))!.state).toBe('pruned');
  });

  it('resumes after a restart: a new driver over the same rows continues without duplicate trial numbers, even when two race', async () => {
    const sweep = await sweeps.create(sweepBody({ budget: { maxTrials: 6 }, sampler: { type: 'tpe', options: { nStartupTrials: 2 } } }), 'alice');
    await newDriver().drive(sweep.id);
    const first = await running(sweep.id);
    await complete(first[0]!.trainingJobId!, [0.4]);
    await complete(first[1]!.trainingJobId!, [0.5]);

    // The first driver is gone; two new ones (a restart, plus a second scheduler) pass at once.
    const a = newDriver();
    const b = newDriver();
    await Promise.all([a.drive(sweep.id), b.drive(sweep.id)]);
    await Promise.all([a.drive(sweep.id), b.drive(sweep.id)]);
    const all = await trials(sweep.id);
    expect(all.map((t) => t.number)).toEqual([0, 1, 2, 3]);
    expect(all.filter((t) => t.state === 'running')).toHaveLength(2);
    const jobIds = (await ds.query(`SELECT training_job_id FROM trials WHERE sweep_id = $1`, [sweep.id])).map((x: { training_job_id: string }) => x.training_job_id);
    expect(new Set(jobIds).size).toBe(4);
    // No orphan training job from the lost race: every sweep job row belongs to a trial.
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM training_jobs WHERE name LIKE 'lr-fusion trial %' AND id NOT IN (SELECT training_job_id FROM trials WHERE training_job_id IS NOT NULL)`);
    expect(n).toBe(0);
  });

  it('stops: running trials get a stop request, queued ones stop at once, waiting ones are dropped, then the sweep is stopped', async () => {
    const sweep = await sweeps.create(sweepBody({ enqueueTrials: [{}, {}, {}] }), 'alice');
    const driver = newDriver();
    await driver.drive(sweep.id);
    const [t0, t1] = await running(sweep.id);
    await report(t0!.trainingJobId!, [0.7]); // running on a worker; t1 still queued
    expect(await sweeps.requestStop(sweep.id)).not.toBeNull();
    await driver.drive(sweep.id);
    expect((await jobRow(t0!.trainingJobId!)).desired_state).toBe('stop');
    expect((await jobRow(t1!.trainingJobId!)).status).toBe('stopped');
    expect(await queue.isLive(t1!.trainingJobId!)).toBe(false);
    expect((await sweepRow(sweep.id)).status).toBe('stopping');
    // Enqueueing into a stopping sweep is refused.
    await expect(sweeps.enqueueTrial(sweep.id, {})).rejects.toThrow(/stopping/);

    await ds.query(`UPDATE training_jobs SET status = 'stopped', desired_state = NULL WHERE id = $1`, [t0!.trainingJobId]);
    await driver.drive(sweep.id);
    const done = await sweepRow(sweep.id);
    expect(done).toMatchObject({ status: 'stopped', finishReason: 'stopped', trialCounts: { stopped: 3 } });
    expect((await trials(sweep.id)).map((t) => t.state)).toEqual(['stopped', 'stopped', 'stopped']);
  });

  it('stops starting trials at the time budget, records failed jobs, and fails a sweep in which no trial completed', async () => {
    clock = Date.now();
    const sweep = await sweeps.create(sweepBody({ budget: { maxTrials: 10, maxDurationSeconds: 60 } }), 'alice');
    const driver = newDriver();
    await driver.drive(sweep.id);
    const [t0, t1] = await running(sweep.id);
    clock += 61_000;
    await ds.query(`UPDATE training_jobs SET status = 'failed', error = 'clinical.csv, line 3: not a number' WHERE id = $1`, [t0!.trainingJobId]);
    await ds.query(`UPDATE training_jobs SET status = 'completed', current_metrics = '{"val_accuracy": 0.7}' WHERE id = $1`, [t1!.trainingJobId]);
    await driver.drive(sweep.id);
    const all = await trials(sweep.id);
    expect(all).toHaveLength(2);
    expect(all[0]).toMatchObject({ state: 'failed', error: 'clinical.csv, line 3: not a number' });
    expect(all[1]!.state).toBe('failed');
    expect(all[1]!.error).toMatch(/completed without a finite val_loss/);
    expect(await sweepRow(sweep.id)).toMatchObject({ status: 'failed', finishReason: 'max_duration', error: 'no trial completed (2 failed)' });
  });

  it('fails a trial whose combination of values makes no valid training job, and goes on', async () => {
    const sweep = await sweeps.create(
      sweepBody({
        searchSpace: {
          'trainingConfig.learningRate': { type: 'float', low: 0.001, high: 0.1, log: true },
          'trainingConfig.minLearningRate': { type: 'float', low: 0.001, high: 0.01 },
        },
        baseTrainingJob: { dataConfig: { datasetId }, trainingConfig: { epochs: 3, learningRate: 0.1 } },
        enqueueTrials: [{ 'trainingConfig.learningRate': 0.001, 'trainingConfig.minLearningRate': 0.01 }],
        budget: { maxTrials: 20 },
        parallelism: 1,
      }),
      'alice',
    );
    await newDriver().drive(sweep.id);
    const [bad, ...rest] = await trials(sweep.id);
    expect(bad).toMatchObject({ number: 0, state: 'failed', trainingJobId: null });
    expect(bad!.error).toMatch(/trainingConfig\.minLearningRate: minLearningRate 0\.01 is above learningRate 0\.001/);
    // Sampled trials follow (some may fail the same way) until one runs.
    expect(rest.at(-1)).toMatchObject({ state: 'running' });
    expect(rest.slice(0, -1).every((t) => t.state === 'failed')).toBe(true);
  });

  it('runs a two-objective sweep with NSGA-II: values per objective, no single best trial', async () => {
    const sweep = await sweeps.create(
      sweepBody({
        objectives: [
          { metric: 'val_loss', direction: 'minimize' },
          { metric: 'val_accuracy', direction: 'maximize' },
        ],
        sampler: { type: 'nsga2', options: { populationSize: 4 } },
        budget: { maxTrials: 3 },
        parallelism: 3,
      }),
      'alice',
    );
    const driver = newDriver();
    await driver.drive(sweep.id);
    const live = await running(sweep.id);
    expect(live).toHaveLength(3);
    expect(live.every((t) => t.samplerAttrs.nsgaGeneration === 0)).toBe(true);
    for (const [i, t] of live.entries()) await complete(t.trainingJobId!, [0.5 + i / 10]);
    await driver.drive(sweep.id);
    const done = await trials(sweep.id);
    expect(done.map((t) => t.values)).toEqual([[0.5, 0.5], [0.6, 0.4], [0.7, 0.30000000000000004]]);
    expect(await sweepRow(sweep.id)).toMatchObject({ status: 'completed', bestTrialId: null, finishReason: 'max_trials' });
  });

  it('ends a grid sweep when the grid is exhausted, after its running trials finish', async () => {
    const sweep = await sweeps.create(
      sweepBody({
        searchSpace: { 'modelConfig.fusion': { type: 'categorical', choices: ['concatenate', 'late'] } },
        sampler: { type: 'grid' },
        budget: { maxTrials: 10 },
        parallelism: 3,
      }),
      'alice',
    );
    const driver = newDriver();
    await driver.drive(sweep.id);
    const live = await running(sweep.id);
    expect(live.map((t) => t.params['modelConfig.fusion']).sort()).toEqual(['concatenate', 'late']);
    expect((await sweepRow(sweep.id)).status).toBe('running');
    for (const t of live) await complete(t.trainingJobId!, [0.4]);
    await driver.drive(sweep.id);
    expect(await sweepRow(sweep.id)).toMatchObject({ status: 'completed', finishReason: 'grid_exhausted', trialCounts: { complete: 2 } });
  });

  it('enqueueing respects the trial budget', async () => {
    const sweep = await sweeps.create(sweepBody({ budget: { maxTrials: 2 }, enqueueTrials: [{}] }), 'alice');
    const t = await sweeps.enqueueTrial(sweep.id, { 'modelConfig.fusion': 'late' });
    expect(t).toMatchObject({ number: 1, state: 'waiting', enqueued: true });
    await expect(sweeps.enqueueTrial(sweep.id, {})).rejects.toThrow(/budget/);
  });
});
