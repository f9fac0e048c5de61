import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { TrainingQueue } from './training-queue.js';

/**
 * How many gpu-worker slots the training queue asks for right now. One job with
 * `trainingConfig.resources.workers = N` is a gang of N ranks, so it needs N slots.
 */
export interface TrainingDemand {
  /** Jobs in BullMQ's `wait` list, its `prioritized` set and its `active` list. */
  waitingJobs: number;
  prioritizedJobs: number;
  activeJobs: number;
  /** Slots the waiting and prioritized jobs need (each weighted by its workers). */
  waitingWorkers: number;
  /** Slots the running jobs hold. */
  activeWorkers: number;
  /**
   * waitingWorkers + activeWorkers: the figure an autoscaler scales on. Running work is included
   * so that the workers training a job are not scaled away once the queue drains.
   */
  workersNeeded: number;
  /** Queue entries without a training_jobs row (counted as one slot each: a worker still picks them up). */
  unknownJobs: number;
  /**
   * Multi-worker jobs, which wait in Postgres for the gang scheduler rather than in the queue:
   * queued ones are in waitingWorkers, running ones in activeWorkers, each weighted by its workers.
   */
  gangJobsWaiting: number;
  gangJobsRunning: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Reads the queue's three lists in one MULTI (a job moving from waiting to active between two
 * reads would otherwise count twice or not at all), then the jobs' worker counts from Postgres,
 * the authority on a job's resources (BullMQ job id = row id).
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
  const seen = new Set<string>();
  const unique = (ids: string[]) => ids.filter((id) => !seen.has(id) && seen.add(id));
  const states = { waiting: unique(waiting), prioritized: unique(prioritized), active: unique(active) };
  const weights = await workersPerJob(ds, [...seen]);
  const sum = (ids: string[]) => ids.reduce((total, id) => total + (weights.get(id) ?? 1), 0);
  const gangs = await gangDemand(ds, [...seen]);
  const waitingWorkers = sum(states.waiting) + sum(states.prioritized) + gangs.queued.workers;
  const activeWorkers = sum(states.active) + gangs.running.workers;
  return {
    waitingJobs: states.waiting.length,
    prioritizedJobs: states.prioritized.length,
    activeJobs: states.active.length,
    waitingWorkers,
    activeWorkers,
    workersNeeded: waitingWorkers + activeWorkers,
    unknownJobs: [...seen].filter((id) => !weights.has(id)).length,
    gangJobsWaiting: gangs.queued.jobs,
    gangJobsRunning: gangs.running.jobs,
  };
}

/** Queued and running multi-worker jobs, with the slots they need, from Postgres. */
async function gangDemand(ds: DataSource, inQueue: string[]): Promise<Record<'queued' | 'running', { jobs: number; workers: number }>> {
  // A gang job an older release put in the queue is already counted there.
  const rows: { status: 'queued' | 'running'; jobs: string; workers: string }[] = await ds.query(
    `SELECT status, count(*) AS jobs, sum((training_config #>> '{resources,workers}')::int) AS workers FROM training_jobs
      WHERE status IN ('queued', 'running') AND COALESCE((training_config #>> '{resources,workers}')::int, 1) > 1
        AND NOT (id::text = ANY($1::text[])) GROUP BY status`,
    [inQueue],
  );
  const out = { queued: { jobs: 0, workers: 0 }, running: { jobs: 0, workers: 0 } };
  for (const r of rows) out[r.status] = { jobs: Number(r.jobs), workers: Number(r.workers) };
  return out;
}

/** Rows stored before `resources` existed, or without it, need one worker (the schema's default). */
async function workersPerJob(ds: DataSource, ids: string[]): Promise<Map<string, number>> {
  const uuids = ids.filter((id) => UUID.test(id));
  if (!uuids.length) return new Map();
  const rows: { id: string; workers: number }[] = await ds.query(
    `SELECT id::text AS id, COALESCE((training_config #>> '{resources,workers}')::int, 1) AS workers
       FROM training_jobs WHERE id = ANY($1::uuid[])`,
    [uuids],
  );
  return new Map(rows.map((r) => [r.id, Math.max(1, Number(r.workers))]));
}
