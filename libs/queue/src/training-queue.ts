import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { QUEUE_JOB_NAMES, trainingJobPayloadSchema, type TrainingJobPayload } from '@medfusion/contracts';
import { QUEUE_SETTINGS } from './queue-settings.js';

const LIVE_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

export type EnqueueOutcome = 'added' | 'already-queued';

/**
 * The `training` queue as producers see it. A BullMQ job's id is the training_jobs row id, so a
 * retry or double submit can never queue one job twice.
 */
export class TrainingQueue {
  readonly queue: Queue<TrainingJobPayload>;

  constructor(connection: Redis, prefix: string) {
    this.queue = new Queue<TrainingJobPayload>('training', { connection, prefix });
  }

  /**
   * Adds the job unless it is already waiting or running. A finished BullMQ job left from an
   * earlier run of the same row (paused and resumed, or recovered) is removed first, because BullMQ
   * silently ignores an add whose id still exists.
   */
  async enqueue(trainingJobId: string): Promise<EnqueueOutcome> {
    const payload = trainingJobPayloadSchema.parse({ trainingJobId });
    const existing = await this.queue.getJob(trainingJobId);
    if (existing) {
      const state = await existing.getState();
      if (LIVE_STATES.has(state)) return 'already-queued';
      await existing.remove();
    }
    await this.queue.add(QUEUE_JOB_NAMES.training, payload, { ...trainingJobOptions(), jobId: trainingJobId });
    return 'added';
  }

  /**
   * Offers a job whose worker died to the other workers now: its queue job is still `active`
   * under the dead worker's lock, so it is moved back to waiting without that lock's token (the
   * next worker takes a new lock); a job missing from Redis is added. Call it only after the row
   * was put back to `queued` (TrainingRunRepository.requeueOrphaned): the row's claim, not the
   * queue, keeps the job from running twice.
   */
  async requeueFromDeadWorker(trainingJobId: string): Promise<'moved' | EnqueueOutcome> {
    const existing = await this.queue.getJob(trainingJobId);
    if (existing && (await existing.getState()) === 'active') {
      await existing.moveToWait();
      return 'moved';
    }
    return this.enqueue(trainingJobId);
  }

  /** Removes a job that is waiting (not running); returns whether one was removed. */
  async removeIfWaiting(trainingJobId: string): Promise<boolean> {
    const job = await this.queue.getJob(trainingJobId);
    if (!job) return false;
    const state = await job.getState();
    if (state === 'active') return false;
    await job.remove();
    return true;
  }

  /** True when Redis holds a live (waiting or running) job for the row. */
  async isLive(trainingJobId: string): Promise<boolean> {
    const job = await this.queue.getJob(trainingJobId);
    return job ? LIVE_STATES.has(await job.getState()) : false;
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

export function trainingJobOptions(): JobsOptions {
  const s = QUEUE_SETTINGS.training;
  return {
    attempts: s.attempts,
    backoff: { type: 'exponential', delay: s.backoffMs, jitter: 0.5 },
    removeOnComplete: { count: s.keepCompleted },
    removeOnFail: { count: s.keepFailed },
  };
}
