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
    });
  });

  it('weights waiting, prioritized and running jobs by their workers per job', async () => {
    const gangOfFour = await insertJob(4);
    const single = await insertJob(undefined); // stored without resources: the schema default, 1
    const prioritizedPair = await insertJob(2);
    const running = await insertJob(3);
    // Take a job the way a gpu-worker does, so it is active; then fill the waiting list and the prioritized set.
    await queue.enqueue(running);
    workerRedis = createRedis(resources.redisUrl, 'worker');
    worker = new Worker('training', null, { connection: workerRedis, prefix: resources.redisPrefix });
    const taken = await worker.getNextJob('test-token');
    expect(taken?.id).toBe(running);
    await queue.enqueue(gangOfFour);
    await queue.enqueue(single);
    await queue.queue.add(QUEUE_JOB_NAMES.training, { trainingJobId: prioritizedPair }, { jobId: prioritizedPair, priority: 5 });
    // A job with no row (e.g. its row was deleted while Redis kept it) still occupies a worker once taken.
    await queue.enqueue('00000000-0000-4000-8000-000000000001');

    expect(await measureTrainingDemand(queue, redis, ds)).toEqual({
      waitingJobs: 3, // gangOfFour, single, orphan
      prioritizedJobs: 1, // prioritizedPair
      activeJobs: 1, // running
      waitingWorkers: 4 + 1 + 1 + 2,
      activeWorkers: 3,
      workersNeeded: 11,
      unknownJobs: 1,
    });
    expect(await queue.queue.getJobCounts('waiting', 'prioritized', 'active')).toEqual({ waiting: 3, prioritized: 1, active: 1 });
  });

  it('serves the figure as JSON at the path the KEDA trigger reads', async () => {
    await queue.enqueue(await insertJob(2));
    let server: HealthServer | undefined;
    try {
      server = await startHealthServer('127.0.0.1', 0, {}, new Map([[QUEUE_METRICS_PATH, queueMetricsRoute(queue, { redis, ds })]]));
      const res = await fetch(`http://127.0.0.1:${server.port}${QUEUE_METRICS_PATH}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { training: { workersNeeded: number; waitingJobs: number }; measuredAt: string };
      expect(body.training).toMatchObject({ workersNeeded: 2, waitingJobs: 1 });
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
      const id = await insertJob(3);
      await queue.enqueue(id);
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
