import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { openDatabase, TrainingRunRepository, WorkerSlotRepository } from '@medfusion/persistence';
import { createRedis, requeueOrphanedRuns, TrainingEventPublisher, TrainingQueue, waitForRedis } from '@medfusion/queue';
import { createLogger } from '@medfusion/runtime';
import { isolatedResources, type IsolatedResources } from '@medfusion/testing';

/**
 * The scheduler's dead-worker requeue against real Postgres and BullMQ: a job whose worker stopped
 * heartbeating is put back to queued and moved from `active` (under the dead worker's lock, which
 * would otherwise hold it for TRAINING_LOCK_DURATION_MS + a stalled check) to waiting, then runs
 * once on the next worker.
 */
describe('dead worker requeue', () => {
  let r: IsolatedResources;
  let ds: DataSource;
  let redis: Redis;
  let workerConnection: Redis;
  let queue: TrainingQueue;
  let consumer: Worker;
  const logger = createLogger('test', 'silent');
  const TTL = 2000;

  beforeAll(async () => {
    r = await isolatedResources();
    ds = await openDatabase({ url: r.databaseUrl, migrate: true, poolSize: 3 });
    redis = createRedis(r.redisUrl, 'producer');
    workerConnection = createRedis(r.redisUrl, 'worker');
    await Promise.all([waitForRedis(redis, r.redisUrl), waitForRedis(workerConnection, r.redisUrl)]);
    queue = new TrainingQueue(redis, r.redisPrefix);
    // Takes jobs by hand (getNextJob), as a gpu-worker's loop would, with a lock that outlives the test.
    consumer = new Worker('training', null, { connection: workerConnection, prefix: r.redisPrefix, lockDuration: 600_000, autorun: false });
  });
  afterAll(async () => {
    await consumer.close(true);
    await queue.close();
    workerConnection.disconnect();
    redis.disconnect();
    await ds.destroy();
    await r.cleanup();
  });

  it('requeues a dead worker’s running job at once, claimable once, the zombie fenced out', async () => {
    const [{ id }] = await ds.query(
      `INSERT INTO training_jobs (name, model_config, data_config, training_config, status, total_epochs, owner)
       VALUES ('j', '{}', '{}', '{"epochs": 5}', 'queued', 5, 'alice') RETURNING id`,
    );
    const runs = new TrainingRunRepository(ds, { heartbeatTtlMs: TTL });
    const slots = new WorkerSlotRepository(ds);
    await queue.enqueue(id);
    const taken = await consumer.getNextJob('dead-token');
    expect(taken?.id).toBe(id);
    await slots.register('dead', 'h', 1);
    expect(await slots.takeForSingle('dead', id)).toBe(0);
    const claim = await runs.claim(id, 'dead');
    if (!claim.claimed) throw new Error('claim failed');

    const events = new TrainingEventPublisher(redis, r.redisPrefix);
    expect(await requeueOrphanedRuns({ runs, queue, events, logger })).toEqual([]);
    // SIGKILL: no more heartbeats.
    await ds.query(`UPDATE worker_slots SET heartbeat_at = now() - interval '3 seconds' WHERE worker_id = 'dead'`);
    const requeued = await requeueOrphanedRuns({ runs, queue, events, logger });
    expect(requeued).toEqual([{ jobId: id, workerId: 'dead', attempt: 1 }]);
    expect(await requeueOrphanedRuns({ runs, queue, events, logger })).toEqual([]);
    expect(await (await queue.queue.getJob(id))!.getState()).toBe('waiting');

    // The next worker gets the queue job and the row; a second delivery is not claimed.
    const again = await consumer.getNextJob('heir-token');
    expect(again?.id).toBe(id);
    await slots.register('heir', 'h', 1);
    expect(await slots.takeForSingle('heir', id)).toBe(0);
    const heir = await runs.claim(id, 'heir');
    expect(heir.claimed && heir.fence.attempt).toBe(2);
    await slots.register('third', 'h', 1);
    expect(await slots.takeForSingle('third', id)).toBe(0);
    expect((await runs.claim(id, 'third')).claimed).toBe(false);
    // The old worker, should it come back, cannot record anything.
    await expect(runs.recordEpoch(claim.fence, { epoch: 1, metrics: {} }, 0.2)).rejects.toThrow(/no longer owns/);
  });
});
