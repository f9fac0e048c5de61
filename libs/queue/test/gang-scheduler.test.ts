import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { trainingEventSchema, trainingEventsChannel, type TrainingEvent } from '@medfusion/contracts';
import { GangRepository, openDatabase, WorkerSlotRepository } from '@medfusion/persistence';
import { createRedis, GangScheduler, TrainingEventPublisher, waitForRedis } from '@medfusion/queue';
import { createLogger } from '@medfusion/runtime';
import { isolatedResources, waitFor, type IsolatedResources } from '@medfusion/testing';

/**
 * The scheduler's gang pass against real Postgres and Redis, with worker slots registered the way
 * gpu-workers register them (no training runs here: the slots' states are what the pass reads).
 * Time is passed in, so reservation and timeout are checked without waiting.
 */
describe('gang scheduler pass', () => {
  let r: IsolatedResources;
  let ds: DataSource;
  let redis: Redis;
  let subscriber: Redis;
  let slots: WorkerSlotRepository;
  let gangs: GangRepository;
  let scheduler: GangScheduler;
  const events: TrainingEvent[] = [];
  const settings = { heartbeatTtlMs: 60_000, reserveAfterMs: 10_000, reservationTimeoutMs: 60_000, maxRestarts: 1 };

  beforeAll(async () => {
    r = await isolatedResources();
    ds = await openDatabase({ url: r.databaseUrl, migrate: true, poolSize: 3 });
    redis = createRedis(r.redisUrl, 'producer');
    subscriber = createRedis(r.redisUrl, 'subscriber');
    await Promise.all([waitForRedis(redis, r.redisUrl), waitForRedis(subscriber, r.redisUrl)]);
    await subscriber.subscribe(trainingEventsChannel(r.redisPrefix));
    subscriber.on('message', (_channel: string, raw: string) => events.push(trainingEventSchema.parse(JSON.parse(raw))));
    slots = new WorkerSlotRepository(ds);
    gangs = new GangRepository(ds);
    scheduler = new GangScheduler({ gangs, events: new TrainingEventPublisher(redis, r.redisPrefix), logger: createLogger('test', 'silent'), settings });
  });
  afterAll(async () => {
    subscriber.disconnect();
    redis.disconnect();
    await ds.destroy();
    await r.cleanup();
  });
  beforeEach(async () => {
    events.length = 0;
    await ds.query(`DELETE FROM worker_slots`);
    await ds.query(`DELETE FROM training_jobs`);
  });

  async function newJob(workers: number): Promise<string> {
    const [{ id }] = await ds.query(
      `INSERT INTO training_jobs (name, model_config, data_config, training_config, status, total_epochs, owner)
       VALUES ('j', '{}', '{}', $1, 'queued', 5, 'alice') RETURNING id`,
      [JSON.stringify({ epochs: 5, resources: { workers } })],
    );
    return id;
  }
  const waitingSince = async (id: string): Promise<Date> => (await ds.query(`SELECT gang_waiting_since FROM training_jobs WHERE id = $1`, [id]))[0].gang_waiting_since;
  const slotStates = async () => (await ds.query(`SELECT worker_id || '/' || slot AS s, state FROM worker_slots ORDER BY worker_id, slot`)).map((x: { s: string; state: string }) => `${x.s}:${x.state}`);

  it('holds freed slots for a gang that waited, keeps them from single jobs, admits it once complete, and says so on the job room', async () => {
    for (const w of ['w1', 'w2', 'w3']) await slots.register(w, `${w}.cluster`, 1);
    const busy = [await newJob(1), await newJob(1)];
    expect(await slots.takeForSingle('w2', busy[0]!)).toBe(0);
    expect(await slots.takeForSingle('w3', busy[1]!)).toBe(0);
    const gang = await newJob(3);

    await scheduler.pass();
    const t0 = await waitingSince(gang);
    // Not waited long enough: w1 stays free for single jobs.
    expect(await slotStates()).toEqual(['w1/0:idle', 'w2/0:single', 'w3/0:single']);

    // Past reserveAfterMs: w1 is held; a single job can no longer take it.
    expect((await scheduler.pass(new Date(t0.getTime() + 10_000))).reserved).toBe(1);
    expect(await slots.takeForSingle('w1', await newJob(1))).toBeNull();
    expect((await ds.query(`SELECT scheduling_note FROM training_jobs WHERE id = $1`, [gang]))[0].scheduling_note).toBe('waiting for 3 workers: 1 held for this job, the rest are busy');

    // One single job ends: its slot is held too. The other ends: the gang starts on all three at once.
    await slots.free('w2', 0, busy[0]!);
    await scheduler.pass(new Date(t0.getTime() + 20_000));
    expect(await slotStates()).toEqual(['w1/0:reserved', 'w2/0:reserved', 'w3/0:single']);
    await slots.free('w3', 0, busy[1]!);
    const report = await scheduler.pass(new Date(t0.getTime() + 30_000));
    expect(report.admitted).toEqual([{ jobId: gang, attempt: 1, workers: ['w1', 'w2', 'w3'] }]);
    expect(await slotStates()).toEqual(['w1/0:gang', 'w2/0:gang', 'w3/0:gang']);
    const admitted = await waitFor('the admission event', async () => events.find((e) => e.type === 'status' && e.jobId === gang && e.status === 'running'));
    expect(admitted).toMatchObject({ workerId: 'w1', ranks: [{ rank: 0, workerId: 'w1', host: 'w1.cluster', port: null, status: 'assigned' }, { rank: 1 }, { rank: 2 }] });
  });

  it('releases a reservation that could not complete in time, so single jobs run again, and retries later', async () => {
    for (const w of ['w1', 'w2']) await slots.register(w, w, 1);
    const long = await newJob(1);
    await slots.takeForSingle('w2', long);
    const gang = await newJob(2);
    await scheduler.pass();
    const t0 = await waitingSince(gang);
    await scheduler.pass(new Date(t0.getTime() + 10_000));
    expect(await slotStates()).toEqual(['w1/0:reserved', 'w2/0:single']);
    const [{ gang_reserving_since: since }] = await ds.query(`SELECT gang_reserving_since FROM training_jobs WHERE id = $1`, [gang]);

    await scheduler.pass(new Date(since.getTime() + 60_000));
    expect(await slotStates()).toEqual(['w1/0:idle', 'w2/0:single']);
    expect((await waitingSince(gang)).getTime()).toBeGreaterThan(t0.getTime()); // the wait starts over
    expect(await slots.takeForSingle('w1', await newJob(1))).toBe(0);
    expect((await ds.query(`SELECT status, scheduling_note FROM training_jobs WHERE id = $1`, [gang]))[0]).toMatchObject({
      status: 'queued',
      scheduling_note: expect.stringContaining('released them for other jobs'),
    });
  });

  it('repairs a gang whose worker stopped heartbeating: queued again, then failed after maxRestarts', async () => {
    for (const w of ['w1', 'w2']) await slots.register(w, w, 1);
    const gang = await newJob(2);
    await scheduler.pass();
    expect(await slotStates()).toEqual(['w1/0:gang', 'w2/0:gang']);

    await ds.query(`UPDATE worker_slots SET heartbeat_at = now() - interval '2 minutes' WHERE worker_id = 'w2'`);
    await slots.free('w1', 0, gang); // what w1 does once its rank has ended
    const report = await scheduler.pass();
    expect(report.expiredSlots).toBe(1);
    expect(report.repaired).toEqual([{ jobId: gang, outcome: 'queued', reason: expect.stringContaining('rank 1 (worker w2) stopped running') }]);
    expect((await ds.query(`SELECT status, restarts FROM training_jobs WHERE id = $1`, [gang]))[0]).toEqual({ status: 'queued', restarts: 1 });

    // Only w1 is left: the gang waits (and says the cluster is too small); w2 comes back and it runs again.
    await scheduler.pass();
    expect((await ds.query(`SELECT scheduling_note FROM training_jobs WHERE id = $1`, [gang]))[0].scheduling_note).toMatch(/only 1 worker slot is running/);
    await slots.register('w2', 'w2', 1);
    expect((await scheduler.pass()).admitted).toHaveLength(1);

    // A second loss exceeds maxRestarts (1): the job fails with the reason.
    await ds.query(`UPDATE training_job_ranks SET status = 'failed', error = 'rank 0 allReduce #3: PEER_LEFT' WHERE job_id = $1 AND rank = 0`, [gang]);
    await slots.free('w1', 0, gang);
    const last = await scheduler.pass();
    expect(last.repaired).toEqual([{ jobId: gang, outcome: 'failed', reason: expect.stringContaining('rank 0 (worker w1) failed: rank 0 allReduce #3: PEER_LEFT') }]);
    const failed = await waitFor('the failure event', async () => events.find((e) => e.type === 'status' && e.jobId === gang && e.status === 'failed'));
    expect(failed).toMatchObject({ error: expect.stringContaining('PEER_LEFT') });
    expect((await ds.query(`SELECT error FROM training_jobs WHERE id = $1`, [gang]))[0].error).toMatch(/PEER_LEFT \(gang restarted 1 times; giving up\)$/);
  });
});
