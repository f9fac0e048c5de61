import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { TrainingQueue } from './training-queue.js';

/**
 * How many gpu-worker slots the training work asks for right now. One job with
 * `trainingConfig.resources.workers = N` is a gang of N ranks, so it needs N slots.
 */
export interface TrainingDemand {
  /**
   * Single-worker jobs waiting (BullMQ's `wait` list, and queued rows Redis does not list),
   * prioritized (its `prioritized` set) and running (its `active` list, and running rows Redis
   * does not list). Each job is counted once, wherever it shows up.
   */
  waitingJobs: number;
  prioritizedJobs: number;
  activeJobs: number;
  /** Slots the waiting and prioritized jobs and the queued gangs need (each weighted by its workers). */
  waitingWorkers: number;
  /** Slots the running jobs and gangs hold. */
  activeWorkers: number;
  /**
   * waitingWorkers + activeWorkers: the figure an autoscaler scales on. Running work is included
   * so that the workers training a job are not scaled away once the queue drains.
   */
  workersNeeded: number;
  /** Queue entries without a training_jobs row (counted as one slot each: a worker still picks them up). */
  unknownJobs: number;
  /**
   * Single-worker jobs Postgres has as queued or running that none of BullMQ's lists holds: Redis
   * lost them (flushed, failed over). They are counted all the same (Postgres is the authority);
   * the scheduler's reconciler adds the queued ones back.
   */
  missingFromQueue: number;
  /**
   * Multi-worker jobs, which wait in Postgres for the gang scheduler rather than in the queue:
   * queued ones are in waitingWorkers, running ones in activeWorkers, each weighted by its workers.
   */
  gangJobsWaiting: number;
  gangJobsRunning: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type QueueState = 'waiting' | 'prioritized' | 'active';

/**
 * Reads the queue's three lists in one MULTI (a job moving from waiting to active between two
 * reads would otherwise count twice or not at all), then, in one query, every queued or running
 * training_jobs row and the rows of the queue's entries, with their workers. Postgres is the
 * authority on what runs: a job whose BullMQ entry vanished with Redis's data still trains on a
 * worker and still counts, or KEDA would scale that worker away. BullMQ job id = row id.
 */
export async function measureTrainingDemand(queue: TrainingQueue, redis: Redis, ds: DataSource): Promise<TrainingDemand> {
  const { keys } = queue.queue;
  const replies = await redis
    .multi().lrange(keys.wait!, 0, -1)
    .zrange(keys.prioritized!, 0, -1)
    .lrange(keys.active!, 0, -1)
    .exec();
  if (!replies) throw new Error(`training queue demand: the MULTI reading ${keys.wait} was aborted`);
  const lists = replies.map(([err, ids], i) => {
    if (err) throw new Error(`training queue demand: reading ${[keys.wait, keys.prioritized, keys.active][i]} failed: ${err.message}`);
    return ids as string[];
  });
  const [waiting, prioritized, active] = lists as [string[], string[], string[]];
  // A job in two lists at once (moved between the reads of an older BullMQ) counts in the first.
  const inQueue = new Map<string, QueueState>();
  for (const [state, ids] of [['waiting', waiting], ['prioritized', prioritized], ['active', active]] as const) {
    for (const id of ids) if (!inQueue.has(id)) inQueue.set(id, state);
  }
  const rows = await jobRows(ds, [...inQueue.keys()]);

  const counts = { waiting: 0, prioritized: 0, active: 0 };
  const workers = { waiting: 0, active: 0 };
  let unknownJobs = 0;
  for (const [id, state] of inQueue) {
    const row = rows.get(id);
    if (!row) unknownJobs++;
    counts[state]++;
    workers[state === 'active' ? 'active' : 'waiting'] += row?.workers ?? 1;
  }
  let missingFromQueue = 0;
  const gangs = { queued: 0, running: 0 };
  for (const [id, row] of rows) {
    // Rows of queue entries were counted above, whatever their status; a gang an older release
    // put in the queue among them.
    if (inQueue.has(id) || (row.status !== 'queued' && row.status !== 'running')) continue;
    workers[row.status === 'running' ? 'active' : 'waiting'] += row.workers;
    if (row.workers > 1) {
      gangs[row.status]++;
      continue;
    }
    missingFromQueue++;
    counts[row.status === 'running' ? 'active' : 'waiting']++;
  }
  return {
    waitingJobs: counts.waiting,
    prioritizedJobs: counts.prioritized,
    activeJobs: counts.active,
    waitingWorkers: workers.waiting,
    activeWorkers: workers.active,
    workersNeeded: workers.waiting + workers.active,
    unknownJobs,
    missingFromQueue,
    gangJobsWaiting: gangs.queued,
    gangJobsRunning: gangs.running,
  };
}

/**
 * Queued and running rows, and the rows of `inQueue` whatever their status, with their workers
 * (rows stored before `resources` existed, or without it, need one: the schema's default).
 */
async function jobRows(ds: DataSource, inQueue: string[]): Promise<Map<string, { status: string; workers: number }>> {
  const uuids = inQueue.filter((id) => UUID.test(id));
  const rows: { id: string; status: string; workers: number }[] = await ds.query(
    `SELECT id::text AS id, status, COALESCE((training_config #>> '{resources,workers}')::int, 1) AS workers
       FROM training_jobs WHERE status IN ('queued', 'running') OR id = ANY($1::uuid[])`,
    [uuids],
  );
  return new Map(rows.map((r) => [r.id, { status: r.status, workers: Math.max(1, Number(r.workers)) }]));
}
