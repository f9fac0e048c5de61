import type { QueueName } from '@medfusion/contracts';

export interface QueueSettings {
  /** Jobs a worker process runs at once (the gpu-worker overrides this with its device count). */
  concurrency: number;
  /** How long a worker's lock on a job lasts without renewal. */
  lockDurationMs: number;
  /** How often BullMQ looks for jobs whose lock expired. */
  stalledIntervalMs: number;
  /** Stalls tolerated before the job is failed instead of handed to another worker. */
  maxStalledCount: number;
  attempts: number;
  backoffMs: number;
  /** Finished jobs kept in Redis (the database keeps the history). */
  keepCompleted: number;
  keepFailed: number;
}

/**
 * One entry per queue: adding a queue name without settings does not compile. Training jobs run
 * for hours, so their locks are long and they may stall (worker killed) several times before
 * giving up; the row in Postgres, not the queue, says who owns a job.
 */
export const QUEUE_SETTINGS: Record<QueueName, QueueSettings> = {
  training: { concurrency: 1, lockDurationMs: 60_000, stalledIntervalMs: 30_000, maxStalledCount: 5, attempts: 3, backoffMs: 5_000, keepCompleted: 1000, keepFailed: 5000 },
  workflow: { concurrency: 4, lockDurationMs: 30_000, stalledIntervalMs: 30_000, maxStalledCount: 2, attempts: 3, backoffMs: 2_000, keepCompleted: 1000, keepFailed: 5000 },
  sweep: { concurrency: 4, lockDurationMs: 30_000, stalledIntervalMs: 30_000, maxStalledCount: 2, attempts: 3, backoffMs: 2_000, keepCompleted: 1000, keepFailed: 5000 },
  export: { concurrency: 1, lockDurationMs: 60_000, stalledIntervalMs: 30_000, maxStalledCount: 2, attempts: 3, backoffMs: 5_000, keepCompleted: 1000, keepFailed: 5000 },
};
