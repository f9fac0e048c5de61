import { createDataSource } from '@medfusion/persistence';
import { createRedis, TrainingQueue } from '@medfusion/queue';
import { envForChild, freePort, isolatedResources, startAppProcess, waitFor, waitForHttpOk, type AppProcess, type IsolatedResources } from '@medfusion/testing';
import type { DataSource } from 'typeorm';
import type { Redis } from 'ioredis';

/** The scheduler process puts back training jobs that Redis lost, at start and periodically. */
describe('scheduler reconciler (real process)', () => {
  let resources: IsolatedResources;
  let scheduler: AppProcess;
  let ds: DataSource;
  let redis: Redis;
  let queue: TrainingQueue;

  beforeAll(async () => {
    resources = await isolatedResources();
    const port = await freePort();
    scheduler = startAppProcess('scheduler', envForChild(resources, { SCHEDULER_HEALTH_PORT: String(port), RECONCILE_INTERVAL_MS: '1000' }));
    await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, scheduler); // also migrates the database
    ds = await createDataSource({ url: resources.databaseUrl, poolSize: 2 }).initialize();
    redis = createRedis(resources.redisUrl, 'worker');
    queue = new TrainingQueue(redis, resources.redisPrefix);
  });
  afterAll(async () => {
    scheduler?.kill();
    await queue?.close();
    redis?.disconnect();
    await ds?.destroy();
    await resources.cleanup();
  });

  /** Writes a row straight to Postgres, as if Redis had refused the add (or lost the job later). */
  async function insertJob(status: 'queued' | 'paused'): Promise<string> {
    const [{ id: datasetId }] = await ds.query(
      `INSERT INTO datasets (name, data_path, num_samples, num_classes, created_by) VALUES ('d', '/data', 10, 2, 'alice') RETURNING id`,
    );
    const [{ id }] = await ds.query(
      `INSERT INTO training_jobs (name, model_config, data_config, training_config, dataset_id, status, total_epochs, owner)
       VALUES ('lost', '{}', $1, '{"epochs": 2}', $2, $3, 2, 'alice') RETURNING id`,
      [JSON.stringify({ datasetId }), datasetId, status],
    );
    return id;
  }

  it('re-adds a queued row that is missing from Redis, exactly once', async () => {
    const id = await insertJob('queued');
    await waitFor('the reconciler to add the job', () => queue.isLive(id), 10_000);
    const job = await queue.queue.getJob(id);
    expect(job?.data).toEqual({ trainingJobId: id });

    // Redis loses it again (e.g. a flush); the next periodic pass brings it back.
    await job!.remove();
    expect(await queue.isLive(id)).toBe(false);
    await waitFor('the reconciler to re-add the job', () => queue.isLive(id), 10_000);

    // Several more passes must not duplicate it.
    await new Promise((r) => setTimeout(r, 2500));
    const waiting = await queue.queue.getJobs(['waiting', 'prioritized', 'delayed', 'active']);
    expect(waiting.filter((j) => j.data.trainingJobId === id)).toHaveLength(1);
    expect(await queue.queue.getJobCountByTypes('waiting')).toBe(1);
  });

  it('leaves paused jobs out of the queue', async () => {
    const id = await insertJob('paused');
    await new Promise((r) => setTimeout(r, 2500));
    expect(await queue.queue.getJob(id)).toBeUndefined();
  });
});
