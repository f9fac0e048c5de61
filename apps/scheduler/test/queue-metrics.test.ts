import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { QUEUE_JOB_NAMES } from '@medfusion/contracts';
import { openDatabase } from '@medfusion/persistence';
import { createRedis, measureTrainingDemand, TrainingQueue } from '@medfusion/queue';
import { startHealthServer, type HealthServer } from '@medfusion/runtime';
import { envForChild, freePort, isolatedResources, startAppProcess, waitForHttpOk, type AppProcess, type IsolatedResources } from '@medfusion/testing';
import { QUEUE_METRICS_PATH, queueMetricsRoute } from '../src/queue-metrics.js';

/** The "workers needed" figure KEDA scales gpu-workers on, against real Redis and Postgres. */
describe('training queue demand (queue metrics for KEDA)', () => {
  let resources: IsolatedResources;
  let ds: DataSource;
  let redis: Redis;
  let queue: TrainingQueue;
  let worker: Worker | undefined;
  let workerRedis: Redis | undefined;

  beforeAll(async () => {
    resources = await isolatedResources();
    ds = await openDatabase({ url: resources.databaseUrl, migrate: true, poolSize: 2 });
    redis = createRedis(resources.redisUrl, 'worker');
    queue = new TrainingQueue(redis, resources.redisPrefix);
  });
  afterAll(async () => {
    await worker?.close();
    workerRedis?.disconnect();
    await queue?.close();
    redis?.disconnect();
    await ds?.destroy();
    await resources.cleanup();
  });
  beforeEach(async () => {
    await queue.queue.obliterate({ force: true });
    await ds.query('DELETE FROM training_jobs');
  });

  /** A queued row whose trainingConfig asks for `workers` ranks (or has no resources at all). */
  async function insertJob(workers: number | undefined): Promise<string> {
    const [{ id: datasetId }] = await ds.query(
      `INSERT INTO datasets (name, data_path, num_samples, num_classes, created_by) VALUES ('d', '/data', 10, 2, 'alice') RETURNING id`,
    );
    const trainingConfig = workers === undefined ? { epochs: 2 } : { epochs: 2, resources: { workers } };
    const [{ id }] = await ds.query(
      `INSERT INTO training_jobs (name, model_config, data_config, training_config, dataset_id, status, total_epochs, owner)
       VALUES ('j', '{}', $1, $2, $3, 'queued', 2, 'alice') RETURNING id`,
      [JSON.stringify({ datasetId }), JSON.stringify(trainingConfig), datasetId],
    );
    return id;
  }

  it('is zero for an empty queue', async () => {
    expect(await measureTrainingDemand(queue, redis, ds)).toEqual({
      waitingJobs: 0, prioritizedJobs: 0, activeJobs: 0, waitingWorkers: 0, activeWorkers: 0, workersNeeded: 0, unknownJobs: 0,
      gangJobsWaiting: 0, gangJobsRunning: 0,
    });
  });

  it('counts queue entries and multi-worker jobs (which wait in Postgres, not in the queue), each weighted by its workers', async () => {
    const gangOfFour = await insertJob(4);
    const runningGang = await insertJob(3);
    await ds.query(`UPDATE training_jobs SET status = 'running' WHERE id = $1`, [runningGang]);
    await ds.query(`UPDATE training_jobs SET status = 'paused' WHERE id = $1`, [await insertJob(2)]); // paused: needs nothing
    const single = await insertJob(undefined); // stored without resources: the schema default, 1
    const prioritized = await insertJob(1);
    const running = await insertJob(1);
    // Take a job the way a gpu-worker does, so it is active; then fill the waiting list and the prioritized set.
    await queue.enqueue(running);
    workerRedis = createRedis(resources.redisUrl, 'worker');
    worker = new Worker('training', null, { connection: workerRedis, prefix: resources.redisPrefix });
    const taken = await worker.getNextJob('test-token');
    expect(taken?.id).toBe(running);
    await queue.enqueue(single);
    await queue.queue.add(QUEUE_JOB_NAMES.training, { trainingJobId: prioritized }, { jobId: prioritized, priority: 5 });
    // A job with no row (e.g. its row was deleted while Redis kept it) still occupies a worker once taken.
    await queue.enqueue('00000000-0000-4000-8000-000000000001');

    expect(await measureTrainingDemand(queue, redis, ds)).toEqual({
      waitingJobs: 2, // single, orphan
      prioritizedJobs: 1, // prioritized
      activeJobs: 1, // running
      waitingWorkers: 1 + 1 + 1 + 4, // ... and gangOfFour
      activeWorkers: 1 + 3, // running, runningGang
      workersNeeded: 11,
      unknownJobs: 1,
      gangJobsWaiting: 1,
      gangJobsRunning: 1,
    });
    expect(await queue.queue.getJobCounts('waiting', 'prioritized', 'active')).toEqual({ waiting: 2, prioritized: 1, active: 1 });
    expect(gangOfFour).toBeDefined();
  });

  it('does not count a multi-worker job twice when an older release left it in the queue too', async () => {
    await queue.enqueue(await insertJob(2));
    expect(await measureTrainingDemand(queue, redis, ds)).toMatchObject({ waitingJobs: 1, waitingWorkers: 2, gangJobsWaiting: 0, workersNeeded: 2 });
  });

  it('serves the figure as JSON at the path the KEDA trigger reads', async () => {
    await insertJob(2); // a gang: waits in Postgres
    await queue.enqueue(await insertJob(1));
    let server: HealthServer | undefined;
    try {
      server = await startHealthServer('127.0.0.1', 0, {}, new Map([[QUEUE_METRICS_PATH, queueMetricsRoute(queue, { redis, ds })]]));
      const res = await fetch(`http://127.0.0.1:${server.port}${QUEUE_METRICS_PATH}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { training: { workersNeeded: number; waitingJobs: number }; measuredAt: string };
      expect(body.training).toMatchObject({ workersNeeded: 3, waitingJobs: 1 });
      expect(Number.isNaN(Date.parse(body.measuredAt))).toBe(false);
    } finally {
      await server?.close();
    }
  });

  it('answers 500 naming the path when Redis cannot be read', async () => {
    const unreachable = createRedis('redis://127.0.0.1:1', 'producer');
    unreachable.on('error', () => undefined); // the refused connection is the point of the test
    let server: HealthServer | undefined;
    try {
      server = await startHealthServer('127.0.0.1', 0, {}, new Map([[QUEUE_METRICS_PATH, queueMetricsRoute(queue, { redis: unreachable, ds })]]));
      const res = await fetch(`http://127.0.0.1:${server.port}${QUEUE_METRICS_PATH}`);
      expect(res.status).toBe(500);
      expect(((await res.json()) as { message: string }).message).toContain(QUEUE_METRICS_PATH);
    } finally {
      await server?.close();
      unreachable.disconnect();
    }
  });

  // Needs `npm run build` (as every process-level test): the hookup in main.ts is what is checked.
  it('is served by the real scheduler process on its health port', async () => {
    const port = await freePort();
    let scheduler: AppProcess | undefined;
    try {
      await insertJob(2); // a gang: waits in Postgres
      await queue.enqueue(await insertJob(1));
      scheduler = startAppProcess('scheduler', envForChild(resources, { SCHEDULER_HEALTH_PORT: String(port) }));
      await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, scheduler);
      const res = await fetch(`http://127.0.0.1:${port}${QUEUE_METRICS_PATH}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { training: { workersNeeded: number } }).training.workersNeeded).toBe(3);
    } finally {
      scheduler?.kill();
    }
  });
});
