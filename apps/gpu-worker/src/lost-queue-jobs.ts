import type { Worker } from 'bullmq';
import type { Logger } from '@medfusion/runtime';

/** BullMQ's errors when it renews or finishes a job whose Redis key or lock is gone. */
const LOST_JOB_ERROR = /^(?:could not renew lock for job (\S+)$|(?:Missing key|Missing lock|Lock mismatch) for job (\S+?)\.)/;

/**
 * Handles training jobs that the queue lost while they ran (Redis lost its data or failed over, or
 * the lock lapsed): training goes on, because the Postgres row, not the queue, says who owns a job
 * (its fence stops this worker if another one took over). BullMQ keeps trying to renew such a lock
 * and fails again on every renewal (every 15 s by default), then once more when the job finishes:
 * one warning per job, the repeats at debug level. Every other worker error is logged as an error.
 */
export function watchLostQueueJobs(worker: Worker, logger: Logger): { started(jobId: string): void } {
  const lost = new Set<string>();
  const warnOnce = (jobId: string, err: Error | undefined, msg: string) => {
    if (lost.has(jobId)) return logger.debug({ jobId, err }, 'queue job lost in Redis (already warned)');
    lost.add(jobId);
    logger.warn({ jobId, err }, msg);
  };
  worker.on('lockRenewalFailed', (jobIds: string[]) => {
    for (const jobId of jobIds) warnOnce(jobId, undefined, 'the queue lost the lock of a running training job; training continues, its database row keeps the job');
  });
  worker.on('error', (err: Error) => {
    const m = LOST_JOB_ERROR.exec(err.message);
    const jobId = m?.[1] ?? m?.[2];
    if (jobId === undefined) return logger.error({ err }, 'training worker error');
    warnOnce(jobId, err, 'the queue lost a training job while it ran; its database row holds the outcome');
  });
  return {
    /** A job taken from the queue again is no longer lost. */
    started: (jobId) => void lost.delete(jobId),
  };
}
