import { isGangJob, type TrainingJobRepository } from '@medfusion/persistence';
import type { TrainingQueue } from './training-queue.js';

export interface ReconcileReport {
  checked: number;
  /** Row ids that were queued in Postgres but missing from Redis, and were added back. */
  readded: string[];
}

/**
 * Postgres is the source of truth: every row with status `queued` must have a live job in the
 * `training` queue. Re-adds the ones Redis lost (flushed, failed over, or never added because Redis
 * was down when the job was created). Safe to run concurrently: adds are keyed by row id.
 * Multi-worker jobs are left to the gang scheduler (gang-scheduler.ts).
 */
export async function reconcileTrainingQueue(jobs: TrainingJobRepository, queue: TrainingQueue): Promise<ReconcileReport> {
  const ids = await jobs.idsInStatus(['queued']);
  const readded: string[] = [];
  for (const id of ids) {
    if (await queue.isLive(id)) continue;
    // Re-check the row: it may have been paused, stopped or deleted since the scan. Multi-worker
    // jobs never enter the queue: the gang scheduler admits them from the rows.
    const row = await jobs.findById(id);
    if (row?.status !== 'queued' || isGangJob(row)) continue;
    if ((await queue.enqueue(id)) === 'added') readded.push(id);
  }
  return { checked: ids.length, readded };
}
