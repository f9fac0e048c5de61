import { Writable } from 'node:stream';
import { Queue, Worker } from 'bullmq';
import { pino, type Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { openDatabase, WorkerSlotRepository } from '@medfusion/persistence';
import { createRedis, waitForRedis } from '@medfusion/queue';
import { isolatedResources, waitFor, type IsolatedResources } from '@medfusion/testing';
import { watchLostQueueJobs } from '../src/lost-queue-jobs.js';
import { SlotAgent } from '../src/slot-agent.js';

/** A logger that keeps its records, to count warnings and errors. */
function recordingLogger(): { logger: Logger; records: Array<{ level: number; msg: string; jobId?: string }> } {
  const records: Array<{ level: number; msg: string; jobId?: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) records.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), records };
}
const WARN = 40;
const ERROR = 50;
const transient = () => Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });

/** The gpu-worker's slot bookkeeping and queue handling against real Postgres and Redis. */
describe('gpu-worker resilience', () => {
  let r: IsolatedResources;
  let ds: DataSource;
  const agents: SlotAgent[] = [];

  beforeAll(async () => {
    r = await isolatedResources();
    ds = await openDatabase({ url: r.databaseUrl, migrate: true, poolSize: 3 });
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await ds?.destroy();
    await r.cleanup();
  });

  async function newJob(): Promise<string> {
    const [{ id }] = await ds.query(
      `INSERT INTO training_jobs (name, model_config, data_config, training_config, status, total_epochs, owner)
       VALUES ('j', '{}', '{}', '{"epochs": 5}', 'queued', 5, 'alice') RETURNING id`,
    );
    return id;
  }

  function startAgent(workerId: string, slots: WorkerSlotRepository, capacity: number[], ttlMs = 10_000): SlotAgent {
    const agent = new SlotAgent({
      slots,
      workerId,
      host: '127.0.0.1',
      count: 1,
      intervalMs: 50,
      heartbeatTtlMs: ttlMs,
      logger: pino({ level: 'silent' }),
      runRank: async () => 'not-claimed',
      onQueueCapacity: (c) => capacity.push(c),
    });
    agents.push(agent);
    return agent;
  }

  it('a slot left busy because freeing it failed heals at the next heartbeat, and the worker takes work again', async () => {
    let failFrees = 1;
    class FlakySlots extends WorkerSlotRepository {
      override async free(workerId: string, slot: number, jobId: string): Promise<void> {
        if (failFrees-- > 0) throw transient();
        return super.free(workerId, slot, jobId);
      }
    }
    const capacity: number[] = [];
    const agent = startAgent('leaky', new FlakySlots(ds), capacity);
    await agent.start();
    const first = await newJob();
    // A heartbeat holding the row makes a take skip it (SKIP LOCKED): the worker would try again.
    await waitFor('the slot', async () => (await agent.takeForSingle(first)) === 0, 5000, 20);
    // The job ended; freeing its slot failed on a terminated connection ("could not free the slot").
    await expect(agent.release(0, first)).rejects.toThrow(/administrator command/);

    await waitFor('the leaked slot to be freed', async () => (await ds.query(`SELECT state FROM worker_slots WHERE worker_id = 'leaky'`))[0]?.state === 'idle', 5000, 50);
    // The next queue job gets the slot (before: null for as long as the heartbeat kept the leak alive).
    const next = await newJob();
    await waitFor('the healed slot', async () => (await agent.takeForSingle(next)) === 0, 5000, 20);
    expect(capacity).toContain(1);
    await expect(agent.check()).resolves.toBeUndefined();
  });

  it('a slot that runs a job here but came back idle is marked busy again', async () => {
    const capacity: number[] = [];
    const agent = startAgent('rejoined', new WorkerSlotRepository(ds), capacity);
    await agent.start();
    const job = await newJob();
    await waitFor('the slot', async () => (await agent.takeForSingle(job)) === 0, 5000, 20);
    // The scheduler removed the slots while the worker could not heartbeat; they come back idle.
    await ds.query(`DELETE FROM worker_slots WHERE worker_id = 'rejoined'`);
    await waitFor('the slot to say busy again', async () => {
      const [row] = await ds.query(`SELECT state, job_id FROM worker_slots WHERE worker_id = 'rejoined'`);
      return row?.state === 'single' && row.job_id === job;
    }, 5000, 50);
  });

  it('readiness fails while the slot heartbeat fails for longer than the TTL, and recovers', async () => {
    let down = false;
    class DownSlots extends WorkerSlotRepository {
      override async heartbeat(...args: Parameters<WorkerSlotRepository['heartbeat']>) {
        if (down) throw transient();
        return super.heartbeat(...args);
      }
    }
    const agent = startAgent('unready', new DownSlots(ds), [], 300);
    await agent.start();
    await waitFor('a beat', async () => agent.check().then(() => true), 5000, 50);
    down = true;
    await waitFor('readiness to fail', async () => agent.check().then(() => false, (e: Error) => /no slot heartbeat for .*administrator command/.test(e.message)), 5000, 50);
    down = false;
    await waitFor('readiness to recover', async () => agent.check().then(() => true, () => false), 5000, 50);
  });

  it('a running job that Redis lost is warned about once, never as an error, and training goes on', async () => {
    const { logger, records } = recordingLogger();
    const redis = createRedis(r.redisUrl, 'worker');
    await waitForRedis(redis, r.redisUrl);
    const queue = new Queue('lost-jobs', { connection: redis, prefix: r.redisPrefix });
    const workerConnection = createRedis(r.redisUrl, 'worker');
    let finished = false;
    const worker = new Worker(
      'lost-jobs',
      async () => {
        // Redis loses the job's data while it runs (FLUSHALL, a failover to an empty replica).
        const keys = await redis.keys(`${r.redisPrefix}:lost-jobs:*`);
        if (keys.length) await redis.del(...keys);
        await new Promise((res) => setTimeout(res, 2500));
        finished = true;
        return 'done';
      },
      // Renewals every ~250 ms: ten failed ones while the job runs.
      { connection: workerConnection, prefix: r.redisPrefix, lockDuration: 1000, autorun: false },
    );
    watchLostQueueJobs(worker, logger);
    try {
      const job = await queue.add('t', {}, { jobId: 'lost-1' });
      void worker.run();
      await waitFor('the processor to finish', async () => finished, 10_000, 50);
      await new Promise((res) => setTimeout(res, 500)); // BullMQ's failed attempt to complete it
      const about = records.filter((x) => x.jobId === job.id);
      expect(about.filter((x) => x.level === WARN)).toHaveLength(1);
      expect(records.filter((x) => x.level >= ERROR)).toEqual([]);
      // The renewals kept failing; they were logged, at debug level.
      expect(about.filter((x) => x.level < WARN).length).toBeGreaterThan(1);
    } finally {
      await worker.close(true);
      await queue.close();
      redis.disconnect();
      workerConnection.disconnect();
    }
  });
});
