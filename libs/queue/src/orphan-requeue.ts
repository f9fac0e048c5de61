import type { OrphanedRun, TrainingRunRepository } from '@medfusion/persistence';
import type { Logger } from '@medfusion/runtime';
import type { TrainingEventPublisher } from './training-event-bus.js';
import type { TrainingQueue } from './training-queue.js';

/**
 * One pass of the scheduler's dead-worker check for single-worker jobs: every running job that no
 * live slot of its worker holds (the worker stopped heartbeating for WORKER_HEARTBEAT_TTL_MS, or
 * gave its slot up) goes back to `queued` and to the front of the queue, to resume from its last
 * checkpoint on another worker, about TTL after the worker's last heartbeat instead of after the
 * queue lock lapses (TRAINING_LOCK_DURATION_MS + TRAINING_STALLED_INTERVAL_MS). The old worker's
 * fence is void: should it come back, its next write fails and it stops. A queue failure is logged;
 * the row stays queued and the reconciler adds the job later.
 */
export async function requeueOrphanedRuns(deps: { runs: TrainingRunRepository; queue: TrainingQueue; events: TrainingEventPublisher; logger: Logger }): Promise<OrphanedRun[]> {
  const orphans = await deps.runs.requeueOrphaned();
  for (const o of orphans) {
    const note = `worker ${o.workerId ?? '?'} stopped heartbeating; queued again to resume from the last checkpoint`;
    try {
      const how = await deps.queue.requeueFromDeadWorker(o.jobId);
      deps.logger.warn({ jobId: o.jobId, workerId: o.workerId, attempt: o.attempt, queue: how }, 'queued a dead worker’s training job again');
    } catch (err) {
      deps.logger.error({ err, jobId: o.jobId }, 'could not put a dead worker’s job back in the queue; the reconciler will add it');
    }
    await deps.events.publish({ type: 'status', jobId: o.jobId, status: 'queued', note }).catch((err: unknown) => deps.logger.warn({ err, jobId: o.jobId }, 'could not publish the requeue event'));
  }
  return orphans;
}
