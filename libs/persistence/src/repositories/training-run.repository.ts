import type { DataSource, EntityManager } from 'typeorm';
import type { EpochRecord } from '../entities/training-job.entity.js';
import { TrainingJobEntity } from '../entities/training-job.entity.js';
import { ModelEntity } from '../entities/model.entity.js';

/**
 * Proof that a worker owns a running job: its id and the attempt number its claim produced. Every
 * write a worker makes is conditional on both, so a worker that lost the job (its lock expired and
 * another worker took over) cannot overwrite the new owner's progress.
 */
export interface RunFence {
  jobId: string;
  workerId: string;
  attempt: number;
}

export class LostOwnershipError extends Error {
  readonly code = 'LOST_OWNERSHIP';
  constructor(fence: RunFence) {
    super(`worker ${fence.workerId} no longer owns training job ${fence.jobId} (attempt ${fence.attempt})`);
  }
}

export type ClaimResult = { claimed: true; fence: RunFence; job: TrainingJobEntity } | { claimed: false; job: TrainingJobEntity | null };

/** A running single-worker job handed back to the queue because its worker stopped heartbeating. */
export interface OrphanedRun {
  jobId: string;
  /** The worker that lost it, and the attempt it ran (its fence, now void). */
  workerId: string | null;
  attempt: number;
}

export interface TrainingRunOptions {
  /** WORKER_HEARTBEAT_TTL_MS: a worker slot silent this long is dead. */
  heartbeatTtlMs?: number;
}

/**
 * SQL: the running job `j` is held by a live slot of its worker (one that took it with
 * takeForSingle, before the claim, and heartbeated within $ttl ms). A running job without one has
 * lost its worker: killed, crashed, or it gave the slot up.
 */
const HELD_BY_LIVE_SLOT = (ttlParam: string) => `EXISTS (SELECT 1 FROM worker_slots s WHERE s.worker_id = j.worker_id AND s.job_id = j.id AND s.state = 'single'
                 AND s.heartbeat_at >= now() - make_interval(secs => ${ttlParam}::double precision / 1000))`;

/** SQL predicate of a job that runs on one worker (a gang's running row belongs to the gang scheduler). */
const SINGLE_JOB = `COALESCE((j.training_config->'resources'->>'workers')::int, 1) <= 1`;

/** The worker's side of a training job's row: claim, progress, and the final state. */
export class TrainingRunRepository {
  private readonly heartbeatTtlMs: number;

  constructor(
    private readonly ds: DataSource,
    opts: TrainingRunOptions = {},
  ) {
    this.heartbeatTtlMs = opts.heartbeatTtlMs ?? 12_000;
  }

  /**
   * Takes the job for `workerId`: a queued job, or a running one whose worker is gone (no live
   * slot of that worker holds it: the queue re-delivered it after its lock expired). A running job
   * that its worker still holds is never taken over, so a job queued twice (a lock that lapsed
   * while Redis was slow, a requeue racing the queue's stalled check) is claimed once.
   */
  async claim(jobId: string, workerId: string): Promise<ClaimResult> {
    // TypeORM returns [rows, affected] for UPDATE.
    const [rows] = (await this.ds.query(
      `UPDATE training_jobs j
          SET status = 'running', worker_id = $2, attempts = attempts + 1, started_at = COALESCE(started_at, now()),
              error = NULL, scheduling_note = NULL, updated_at = now()
        WHERE j.id = $1 AND (j.status = 'queued' OR (j.status = 'running' AND NOT ${HELD_BY_LIVE_SLOT('$3')}))
        RETURNING attempts`,
      [jobId, workerId, this.heartbeatTtlMs],
    )) as [Array<{ attempts: number }>, number];
    const job = await this.ds.getRepository(TrainingJobEntity).findOneBy({ id: jobId });
    if (!rows.length || !job) return { claimed: false, job };
    return { claimed: true, fence: { jobId, workerId, attempt: rows[0]!.attempts }, job };
  }

  /**
   * Puts running single-worker jobs whose worker is gone back to `queued` (the scheduler, about
   * WORKER_HEARTBEAT_TTL_MS after a worker's last heartbeat, instead of waiting for the queue lock
   * to lapse). The old worker's fence is void from here on: its writes fail with
   * LostOwnershipError, and the next claim takes attempt + 1. Safe to run from several schedulers:
   * each job is returned to only one of them.
   */
  async requeueOrphaned(): Promise<OrphanedRun[]> {
    const [rows] = (await this.ds.query(
      `WITH orphan AS (
         SELECT j.id, j.worker_id, j.attempts FROM training_jobs j
          WHERE j.status = 'running' AND ${SINGLE_JOB} AND NOT ${HELD_BY_LIVE_SLOT('$1')}
          FOR UPDATE SKIP LOCKED)
       UPDATE training_jobs t
          SET status = 'queued', worker_id = NULL, updated_at = now(),
              scheduling_note = 'worker ' || COALESCE(o.worker_id, '?') || ' stopped heartbeating; queued again to resume from the last checkpoint'
         FROM orphan o
        WHERE t.id = o.id AND t.status = 'running' AND t.attempts = o.attempts
        RETURNING t.id, o.worker_id, t.attempts`,
      [this.heartbeatTtlMs],
    )) as [Array<{ id: string; worker_id: string | null; attempts: number }>, number];
    return rows.map((r) => ({ jobId: r.id, workerId: r.worker_id, attempt: r.attempts }));
  }

  /**
   * Whether the write `fence` made is in the row: after a retried final write (complete, hand
   * back, release, fail) whose first try may have committed before its connection died.
   */
  async finishedAs(fence: RunFence, statuses: string[]): Promise<boolean> {
    const [row] = (await this.ds.query(`SELECT status, attempts FROM training_jobs WHERE id = $1`, [fence.jobId])) as Array<{ status: string; attempts: number }>;
    return !!row && row.attempts === fence.attempt && statuses.includes(row.status);
  }

  /** Records the compute backend the worker trains with. */
  async setBackend(fence: RunFence, backend: string): Promise<void> {
    await this.fenced(fence, `backend = $4`, [backend]);
  }

  /**
   * Drops epochs after `lastEpoch` from the history: they were trained after the checkpoint the job
   * resumes from and will be trained again, so the history never holds an epoch twice.
   */
  async truncateHistory(fence: RunFence, lastEpoch: number): Promise<void> {
    await this.fenced(
      fence,
      `history = COALESCE((SELECT jsonb_agg(e ORDER BY (e->>'epoch')::int) FROM jsonb_array_elements(history) e WHERE (e->>'epoch')::int <= $4), '[]'::jsonb),
       current_epoch = $4`,
      [lastEpoch],
    );
  }

  /** Adds (or replaces) one epoch's record and moves progress forward. */
  async recordEpoch(fence: RunFence, record: EpochRecord, progress: number): Promise<void> {
    await this.fenced(
      fence,
      `history = (SELECT jsonb_agg(e ORDER BY (e->>'epoch')::int)
                   FROM (SELECT e FROM jsonb_array_elements(history) e WHERE (e->>'epoch')::int <> $4 UNION ALL SELECT $5::jsonb) AS h(e)),
       current_epoch = $4, current_metrics = $6::jsonb, progress = $7`,
      [record.epoch, JSON.stringify(record), JSON.stringify(record.metrics), progress],
    );
  }

  async setCheckpointPath(fence: RunFence, path: string): Promise<void> {
    await this.fenced(fence, `checkpoint_path = $4`, [path]);
  }

  /** The desired state the user asked for, read between steps as a fallback to pub/sub. */
  async desiredState(jobId: string): Promise<string | null> {
    const [row] = await this.ds.query(`SELECT desired_state FROM training_jobs WHERE id = $1`, [jobId]);
    return row?.desired_state ?? null;
  }

  /** Pause or stop acted on: the job leaves the worker. */
  async release(fence: RunFence, status: 'paused' | 'stopped'): Promise<void> {
    await this.fenced(
      fence,
      `status = $4, desired_state = NULL, worker_id = NULL${status === 'stopped' ? ', completed_at = now(), duration = EXTRACT(EPOCH FROM now() - started_at)' : ''}`,
      [status],
    );
  }

  /** The worker is going away (SIGTERM): the job waits in the queue for another worker. */
  async handBack(fence: RunFence): Promise<void> {
    await this.fenced(fence, `status = 'queued', worker_id = NULL`, []);
  }

  async fail(fence: RunFence, error: string): Promise<void> {
    await this.fenced(
      fence,
      `status = 'failed', error = $4, desired_state = NULL, worker_id = NULL, completed_at = now(), duration = EXTRACT(EPOCH FROM now() - started_at)`,
      [error],
    );
  }

  /** Marks the job completed and registers its model, in one transaction. */
  async complete(fence: RunFence, model: Omit<ModelEntity, 'id' | 'createdAt'>, finalMetrics: Record<string, number>): Promise<ModelEntity> {
    return this.ds.transaction(async (tx) => {
      await this.fenced(
        fence,
        `status = 'completed', progress = 1, desired_state = NULL, worker_id = NULL, completed_at = now(),
         duration = EXTRACT(EPOCH FROM now() - started_at), model_path = $4, current_metrics = COALESCE(current_metrics, '{}'::jsonb) || $5::jsonb`,
        [model.modelPath, JSON.stringify(finalMetrics)],
        tx,
      );
      const repo = tx.getRepository(ModelEntity);
      return repo.save(repo.create(model));
    });
  }

  private async fenced(fence: RunFence, set: string, params: unknown[], tx: EntityManager = this.ds.manager): Promise<void> {
    const [, affected] = (await tx.query(
      `UPDATE training_jobs SET ${set}, updated_at = now()
        WHERE id = $1 AND worker_id = $2 AND attempts = $3 AND status = 'running'`,
      [fence.jobId, fence.workerId, fence.attempt, ...params],
    )) as [unknown, number];
    if (!affected) throw new LostOwnershipError(fence);
  }
}
