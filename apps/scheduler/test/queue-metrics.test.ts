import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { QUEUE_JOB_NAMES } from '@medfusion/contracts';
import { openDatabase } from '@medfusion/persistence';
import { createRedis, measureTrainingDemand, TrainingQueue, type TrainingDemand } from '@medfusion/queue';
import { startHealthServer, type HealthServer } from '@medfusion/runtime';
import { deleteRedisPrefix, envForChild, freePort, isolatedResources, startAppProcess, waitForHttpOk, type AppProcess, type IsolatedResources } from '@medfusion/testing';
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
      missingFromQueue: 0, gangJobsWaiting: 0, gangJobsRunning: 0,
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
      missingFromQueue: 0,
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

  it('still counts a running job (and a queued one) after Redis lost the queue: Postgres is the authority', async () => {
    const running = await insertJob(1);
    const queued = await insertJob(1);
    const runningGang = await insertJob(2);
    await ds.query(`UPDATE training_jobs SET status = 'running' WHERE id = ANY($1::uuid[])`, [[running, runningGang]]);
    await queue.enqueue(running);
    const takerRedis = createRedis(resources.redisUrl, 'worker');
    const taker = new Worker('training', null, { connection: takerRedis, prefix: resources.redisPrefix });
    try {
      expect((await taker.getNextJob('test-token'))?.id).toBe(running);
      await queue.enqueue(queued);
      expect(await measureTrainingDemand(queue, redis, ds)).toMatchObject({ activeJobs: 1, waitingJobs: 1, workersNeeded: 4 });
    } finally {
      await taker.close();
      takerRedis.disconnect();
    }

    // Redis loses its data (a flush, a failover to an empty replica): only this file's prefix here.
    await deleteRedisPrefix(resources.redisUrl, resources.redisPrefix);
    expect(await queue.queue.getJobCounts('wait', 'active')).toEqual({ wait: 0, active: 0 });

    expect(await measureTrainingDemand(queue, redis, ds)).toEqual({
      waitingJobs: 1, // queued, until the reconciler adds it back
      prioritizedJobs: 0,
      activeJobs: 1, // running: its worker still trains it
      waitingWorkers: 1,
      activeWorkers: 1 + 2,
      workersNeeded: 4,
      unknownJobs: 0,
      missingFromQueue: 2,
      gangJobsWaiting: 0,
      gangJobsRunning: 1,
    });
  });

  it('shares one measurement between concurrent requests and answers from it for a second (a flood costs one query per second)', async () => {
    await queue.enqueue(await insertJob(1));
    let measurements = 0;
    const measure = async (): Promise<TrainingDemand> => {
      measurements++;
      return measureTrainingDemand(queue, redis, ds);
    };
    let server: HealthServer | undefined;
    try {
      server = await startHealthServer('127.0.0.1', 0, {}, new Map([[QUEUE_METRICS_PATH, queueMetricsRoute(queue, { redis, ds }, { measure, cacheMs: 1000 })]]));
      const url = `http://127.0.0.1:${server.port}${QUEUE_METRICS_PATH}`;
      const started = Date.now();
      const flood = await Promise.all(Array.from({ length: 200 }, () => fetch(url).then(async (r) => ({ status: r.status, body: (await r.json()) as { training: TrainingDemand; measuredAt: string } }))));
      const elapsed = Date.now() - started;
      expect(flood.every((r) => r.status === 200 && r.body.training.workersNeeded === 1)).toBe(true);
      expect(new Set(flood.map((r) => r.body.measuredAt)).size).toBe(measurements);
      // One measurement per second at most (two if the flood straddled the end of the first second).
      expect(measurements).toBeLessThanOrEqual(1 + Math.floor(elapsed / 1000));
      const before = measurements;
      await new Promise((r) => setTimeout(r, 1100));
      await fetch(url);
      expect(measurements).toBe(before + 1);
    } finally {
      await server?.close();
    }
  });

  it('with a token, refuses requests without it (401) before measuring anything, and answers the bearer', async () => {
    let measurements = 0;
    const measure = async (): Promise<TrainingDemand> => {
      measurements++;
      return measureTrainingDemand(queue, redis, ds);
    };
    const token = 'a-metrics-token-of-some-length';
    let server: HealthServer | undefined;
    try {
      server = await startHealthServer('127.0.0.1', 0, {}, new Map([[QUEUE_METRICS_PATH, queueMetricsRoute(queue, { redis, ds }, { measure, token, cacheMs: 0 })]]));
      const url = `http://127.0.0.1:${server.port}${QUEUE_METRICS_PATH}`;
      for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${token}`, `Bearer ${token}x`]) {
        const res = await fetch(url, { headers: authorization ? { authorization } : {} });
        expect({ authorization, status: res.status }).toEqual({ authorization, status: 401 });
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
      }
      expect(measurements).toBe(0);
      const ok = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(measurements).toBe(1);
    } finally {
      await server?.close();
    }
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
      const token = 'scheduler-metrics-token-0123';
      scheduler = startAppProcess('scheduler', envForChild(resources, { SCHEDULER_HEALTH_PORT: String(port), QUEUE_METRICS_TOKEN: token }));
      await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, scheduler);
      expect((await fetch(`http://127.0.0.1:${port}${QUEUE_METRICS_PATH}`)).status).toBe(401);
      const res = await fetch(`http://127.0.0.1:${port}${QUEUE_METRICS_PATH}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { training: { workersNeeded: number } }).training.workersNeeded).toBe(3);
    } finally {
      scheduler?.kill();
    }
  });
});
