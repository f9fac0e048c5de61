import { availableParallelism, hostname, networkInterfaces } from 'node:os';
import { DelayedError, UnrecoverableError, Worker } from 'bullmq';
import { LocalArtifactStore } from '@medfusion/artifacts';
import { computeThreads, loadEnv } from '@medfusion/config';
import { QUEUE_SETTINGS, createRedis, openServiceConnections, subscribeTrainingControl, TrainingEventPublisher, TrainingQueue, waitForRedis } from '@medfusion/queue';
import { trainingControlChannel, trainingJobPayloadSchema, type TrainingControlMessage } from '@medfusion/contracts';
import { isTransientDbError, WorkerSlotRepository } from '@medfusion/persistence';
import { createLogger, runHeadlessApp } from '@medfusion/runtime';
import { watchLostQueueJobs } from './lost-queue-jobs.js';
import { SlotAgent } from './slot-agent.js';
import { TrainingJobRunner, type RunResult } from './training-job-runner.js';

const env = loadEnv();
const workerId = env.WORKER_ID ?? `${hostname()}:${process.pid}`;
const logger = createLogger('gpu-worker', env.LOG_LEVEL).child({ workerId });
/** Where other ranks reach this worker: COLLECTIVE_ADVERTISE_HOST, else its first non-loopback IPv4. */
const advertiseHost =
  env.COLLECTIVE_ADVERTISE_HOST ??
  Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address ??
  '127.0.0.1';
/** A single job that finds every slot taken (held for a gang) goes back to the queue for this long. */
const NO_SLOT_DELAY_MS = 1000;
/** A job handed back because the database was unreachable is offered again after this long. */
const DB_LOST_DELAY_MS = 5000;


/**
 * Runs GPU_WORKER_DEVICES slots, each training one job at a time in its own thread: single-worker
 * jobs from the `training` queue, and ranks of multi-worker jobs that the scheduler assigns to the
 * slots (registered with a heartbeat in `worker_slots`, slot-agent.ts). The queue is only consumed
 * once Postgres and Redis are ready; on SIGTERM running jobs checkpoint and go back to the queue
 * (a gang through its rank 0, which stops every rank in step) for another worker.
 */
await runHeadlessApp({
  name: 'gpu-worker',
  host: env.HOST,
  healthPort: env.GPU_WORKER_HEALTH_PORT,
  shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  logger,
  async start() {
    const conn = await openServiceConnections(env, 'producer', (applied) => logger.info({ applied }, 'database migrated'), {
      applicationName: 'medfusion-gpu-worker',
      onConnectionError: (err) => logger.warn({ err }, 'postgres connection lost; the pool reconnects'),
    });
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

    const slots = new WorkerSlotRepository(conn.ds);
    const settings = QUEUE_SETTINGS.training;
    let agent: SlotAgent | undefined;
    const worker = new Worker(
      'training',
      async (job, token) => {
        const parsed = trainingJobPayloadSchema.safeParse(job.data);
        if (!parsed.success) throw new UnrecoverableError(`bad training payload for job ${job.id}: ${parsed.error.message}`);
        const jobId = parsed.data.trainingJobId;
        lostJobs.started(jobId);
        const later = async (delayMs: number): Promise<never> => {
          await job.moveToDelayed(Date.now() + delayMs, token);
          throw new DelayedError();
        };
        let slot: number | null;
        try {
          slot = await agent!.takeForSingle(jobId);
        } catch (err) {
          if (!isTransientDbError(err)) throw err;
          logger.warn({ err, jobId }, 'database unreachable while taking a slot; the job goes back to the queue');
          return later(DB_LOST_DELAY_MS);
        }
        // Every slot is held for a gang or runs a rank (the capacity update is a beat behind).
        if (slot === null) return later(NO_SLOT_DELAY_MS);
        let result: RunResult;
        try {
          result = await runner.run(jobId);
        } finally {
          await agent!.release(slot, jobId).catch((err: unknown) => logger.warn({ err, jobId, slot }, 'could not free the slot; the next heartbeat frees it'));
        }
        // The database was unreachable: keep the queue job, the row is queued (or the scheduler requeues it).
        if (result === 'retry-later') return later(DB_LOST_DELAY_MS);
        // Held by a live worker: ask again while that worker might die with the job unfinished.
        if (result === 'held-elsewhere') return later(Math.max(NO_SLOT_DELAY_MS, env.WORKER_HEARTBEAT_TTL_MS / 4));
        return result;
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
    const lostJobs = watchLostQueueJobs(worker, logger);

    agent = new SlotAgent({
      slots,
      workerId,
      host: advertiseHost,
      count: env.GPU_WORKER_DEVICES,
      intervalMs: env.WORKER_HEARTBEAT_MS,
      heartbeatTtlMs: env.WORKER_HEARTBEAT_TTL_MS,
      logger,
      runRank: (jobId, rank, attempt) => runner.runRank(jobId, rank, attempt),
      onQueueCapacity: (capacity) => {
        // Slots held for a gang or running a rank are not the queue's.
        if (capacity === 0) {
          if (!worker.isPaused()) void worker.pause(true);
          return;
        }
        if (worker.concurrency !== capacity) worker.concurrency = capacity;
        if (worker.isPaused()) worker.resume();
      },
    });
    await agent.start();
    void worker.run();
    logger.info({ devices: env.GPU_WORKER_DEVICES, backend: env.COMPUTE_BACKEND, computeThreads: computeThreads(env, availableParallelism()), advertiseHost }, 'consuming the training queue; slots registered for gangs');

    return {
      // A worker whose slots cannot heartbeat, or disagree with the registry, cannot take work.
      checks: { ...conn.checks, slots: () => agent!.check() },
      async stop() {
        const handedBack = runner.handBackAll();
        // A rank other than 0 cannot stop its gang in step: ask the job's rank 0, wherever it runs.
        for (const jobId of handedBack.replicaOf) {
          const message: TrainingControlMessage = { trainingJobId: jobId, action: 'handback' };
          await conn.redis.publish(trainingControlChannel(env.REDIS_PREFIX), JSON.stringify(message)).catch((err: unknown) => logger.warn({ err, jobId }, 'could not ask rank 0 to hand the gang back; the gang restarts when this rank leaves'));
        }
        await Promise.all([worker.close(), agent!.stop()]); // wait for running jobs and ranks to checkpoint and hand back
        // Their BullMQ jobs completed; queue the single jobs again so another worker continues them
        // now rather than at the scheduler's next reconcile (gangs wait in Postgres for the scheduler).
        const queue = new TrainingQueue(conn.redis, env.REDIS_PREFIX);
        for (const id of handedBack.singles) await queue.enqueue(id).catch((err: unknown) => logger.warn({ err, jobId: id }, 'could not re-queue; the reconciler will'));
        await queue.close();
        subscriber.disconnect();
        workerConnection.disconnect();
        await conn.close();
      },
    };
  },
});
