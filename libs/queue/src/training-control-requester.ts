import type { Redis } from 'ioredis';
import { trainingControlChannel, type TrainingControlAction, type TrainingControlMessage } from '@medfusion/contracts';
import { assertTransition } from '@medfusion/domain';
import { StatusChangedError, type TrainingJobEntity, type TrainingJobRepository } from '@medfusion/persistence';
import type { Logger } from '@medfusion/runtime';
import type { TrainingQueue } from './training-queue.js';

/**
 * Pause or stop a training job, for whoever asks (a user over REST, a sweep pruning a trial). A job
 * that is not running changes state at once and leaves the queue; a running job gets the request
 * written to `desired_state` and signalled on the control channel, and its worker acts on it
 * between steps. Callers check permissions first.
 */
export class TrainingControlRequester {
  constructor(
    private readonly jobs: TrainingJobRepository,
    private readonly queue: TrainingQueue,
    private readonly redis: Redis,
    private readonly redisPrefix: string,
    private readonly logger: Logger,
  ) {}

  async request(id: string, action: TrainingControlAction): Promise<TrainingJobEntity> {
    const job = await this.jobs.getById(id);
    const target = action === 'pause' ? 'paused' : 'stopped';
    if (job.status !== 'running') {
      // Not running: the change happens now (or the transition table refuses it).
      assertTransition(id, job.status, target);
      const patch = action === 'stop' ? { desiredState: null, completedAt: new Date() } : { desiredState: null };
      const updated = await this.jobs.transition(id, target, patch, [job.status]).catch(nullIfStatusChanged);
      if (!updated) return this.request(id, action); // the status changed under us: decide again
      await this.queue.removeIfWaiting(id);
      return updated;
    }
    const requested = await this.jobs.setDesiredState(id, action);
    if (!requested) return this.request(id, action); // it stopped running meanwhile
    const message: TrainingControlMessage = { trainingJobId: id, action };
    await this.redis.publish(trainingControlChannel(this.redisPrefix), JSON.stringify(message)).catch((err: unknown) => {
      // The request is in the row; the worker sees it when it next checks. Log, do not fail.
      this.logger.warn({ err, jobId: id, action }, 'could not publish training control message');
    });
    return requested;
  }
}

function nullIfStatusChanged(err: unknown): null {
  if (err instanceof StatusChangedError) return null;
  throw err;
}
