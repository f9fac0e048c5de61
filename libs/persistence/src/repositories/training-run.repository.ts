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

/** The worker's side of a training job's row: claim, progress, and the final state. */
export class TrainingRunRepository {
  constructor(private readonly ds: DataSource) {}

  /**
   * Takes the job for `workerId`: a queued job, or a running one whose previous worker died (the
   * queue re-delivers a job only after its lock expired). Anything else is not claimed.
   */
  async claim(jobId: string, workerId: string): Promise<ClaimResult> {
    // TypeORM returns [rows, affected] for UPDATE.
    const [rows] = (await this.ds.query(
      `UPDATE training_jobs
          SET status = 'running', worker_id = $2, attempts = attempts + 1, started_at = COALESCE(started_at, now()),
              error = NULL, updated_at = now()
        WHERE id = $1 AND status IN ('queued', 'running')
        RETURNING attempts`,
      [jobId, workerId],
    )) as [Array<{ attempts: number }>, number];
    const job = await this.ds.getRepository(TrainingJobEntity).findOneBy({ id: jobId });
    if (!rows.length || !job) return { claimed: false, job };
    return { claimed: true, fence: { jobId, workerId, attempt: rows[0]!.attempts }, job };
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
