import type { TrainingJobStatus } from '@medfusion/contracts';

/**
 * The one place that says which status changes a training job may make. Every writer (gateway,
 * worker, scheduler) goes through `assertTransition`, and the SQL updates are conditional on the
 * current status, so a late writer cannot move a finished job back to running.
 */
const ALLOWED: Record<TrainingJobStatus, readonly TrainingJobStatus[]> = {
  queued: ['running', 'paused', 'stopped', 'failed'],
  // running -> queued: a worker hands the job back (SIGTERM, lost lock) for another worker to resume.
  running: ['completed', 'failed', 'paused', 'stopped', 'queued'],
  paused: ['queued', 'stopped'],
  completed: [],
  failed: [],
  stopped: [],
};

export const TERMINAL_STATUSES: readonly TrainingJobStatus[] = ['completed', 'failed', 'stopped'];

export function canTransition(from: TrainingJobStatus, to: TrainingJobStatus): boolean {
  return ALLOWED[from].includes(to);
}

/** The statuses a job may be in for a change to `to`; used to make UPDATEs conditional. */
export function statusesAllowingTransitionTo(to: TrainingJobStatus): TrainingJobStatus[] {
  return (Object.keys(ALLOWED) as TrainingJobStatus[]).filter((from) => ALLOWED[from].includes(to));
}

export class InvalidTransitionError extends Error {
  readonly code = 'INVALID_TRANSITION';
  constructor(
    readonly jobId: string,
    readonly from: TrainingJobStatus,
    readonly to: TrainingJobStatus,
  ) {
    const allowed = ALLOWED[from];
    super(
      `training job ${jobId} is ${from} and cannot become ${to}` +
        (allowed.length ? ` (from ${from} it may become: ${allowed.join(', ')})` : ` (${from} is final)`),
    );
  }
}

export function assertTransition(jobId: string, from: TrainingJobStatus, to: TrainingJobStatus): void {
  if (!canTransition(from, to)) throw new InvalidTransitionError(jobId, from, to);
}
