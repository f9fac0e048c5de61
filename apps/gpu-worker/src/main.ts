import { availableParallelism, hostname } from 'node:os';
import { UnrecoverableError, Worker } from 'bullmq';
import { LocalArtifactStore } from '@medfusion/artifacts';
import { computeThreads, loadEnv } from '@medfusion/config';
import { QUEUE_SETTINGS, createRedis, openServiceConnections, subscribeTrainingControl, TrainingEventPublisher, TrainingQueue, waitForRedis } from '@medfusion/queue';
import { trainingJobPayloadSchema } from '@medfusion/contracts';
import { createLogger, runHeadlessApp } from '@medfusion/runtime';
import { TrainingJobRunner } from './training-job-runner.js';

const env = loadEnv();
const workerId = env.WORKER_ID ?? `${hostname()}:${process.pid}`;
const logger = createLogger('gpu-worker', env.LOG_LEVEL).child({ workerId });

/**
 * Consumes the `training` queue, GPU_WORKER_DEVICES jobs at a time, each trained in its own thread.
 * The queue is only consumed once Postgres and Redis are ready; on SIGTERM running jobs checkpoint
 * and go back to the queue for another worker.
 */
await runHeadlessApp({
  name: 'gpu-worker',
  host: env.HOST,
  healthPort: env.GPU_WORKER_HEALTH_PORT,
  shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  logger,
  async start() {
    const conn = await openServiceConnections(env, 'producer', (applied) => logger.info({ applied }, 'database migrated'));
    const subscriber = createRedis(env.REDIS_URL, 'subscriber');
    const workerConnection = createRedis(env.REDIS_URL, 'worker');
    await Promise.all([waitForRedis(subscriber, env.REDIS_URL), waitForRedis(workerConnection, env.REDIS_URL)]);

    const runner = new TrainingJobRunner({
      ds: conn.ds,
      env,
      store: new LocalArtifactStore(env.ARTIFACTS_DIR),
      events: new TrainingEventPublisher(conn.redis, env.REDIS_PREFIX),
      logger,
      workerId,
    });
    await subscribeTrainingControl(
      subscriber,
      env.REDIS_PREFIX,
      (m) => {
        if (runner.request(m.trainingJobId, m.action)) logger.info({ jobId: m.trainingJobId, action: m.action }, 'control request received');
      },
      (err, raw) => logger.warn({ err, raw }, 'ignored a malformed control message'),
    );

    const settings = QUEUE_SETTINGS.training;
    const worker = new Worker(
      'training',
      async (job) => {
        const parsed = trainingJobPayloadSchema.safeParse(job.data);
        if (!parsed.success) throw new UnrecoverableError(`bad training payload for job ${job.id}: ${parsed.error.message}`);
        return runner.run(parsed.data.trainingJobId);
      },
      {
        connection: workerConnection,
        prefix: env.REDIS_PREFIX,
        concurrency: env.GPU_WORKER_DEVICES,
        lockDuration: env.TRAINING_LOCK_DURATION_MS,
        stalledInterval: env.TRAINING_STALLED_INTERVAL_MS,
        maxStalledCount: settings.maxStalledCount,
        autorun: false,
      },
    );
    worker.on('failed', (job, err) => logger.error({ jobId: job?.id, err }, 'training queue job failed'));
    worker.on('error', (err) => logger.error({ err }, 'training worker error'));
    void worker.run();
    logger.info({ devices: env.GPU_WORKER_DEVICES, backend: env.COMPUTE_BACKEND, computeThreads: computeThreads(env, availableParallelism()) }, 'consuming the training queue');

    return {
      checks: conn.checks,
      async stop() {
        const handedBack = runner.handBackAll();
        await worker.close(); // waits for the running jobs to checkpoint and hand back
        // Their BullMQ jobs completed; queue them again so another worker continues them now
        // rather than at the scheduler's next reconcile.
        const queue = new TrainingQueue(conn.redis, env.REDIS_PREFIX);
        for (const id of handedBack) await queue.enqueue(id).catch((err: unknown) => logger.warn({ err, jobId: id }, 'could not re-queue; the reconciler will'));
        await queue.close();
        subscriber.disconnect();
        workerConnection.disconnect();
        await conn.close();
      },
    };
  },
});
