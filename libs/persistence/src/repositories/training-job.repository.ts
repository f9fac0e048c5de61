import { In, Not, type DataSource, type EntityManager, type Repository } from 'typeorm';
import type { CreateTrainingJob, TrainingControlAction, TrainingJobStatus } from '@medfusion/contracts';
import { assertTransition, canTransition, statusesAllowingTransitionTo } from '@medfusion/domain';
import { TrainingJobEntity } from '../entities/training-job.entity.js';

export interface TrainingJobListFilter {
  status?: TrainingJobStatus;
  owner?: string;
  limit: number;
  offset: number;
}

export class TrainingJobNotFoundError extends Error {
  readonly code = 'TRAINING_JOB_NOT_FOUND';
  constructor(readonly jobId: string) {
    super(`training job ${jobId} not found`);
  }
}

/** The transition is legal, but the job is no longer in the status the caller based it on. */
export class StatusChangedError extends Error {
  readonly code = 'STATUS_CHANGED';
  constructor(
    readonly jobId: string,
    readonly status: TrainingJobStatus,
    readonly expected: TrainingJobStatus[],
  ) {
    super(`training job ${jobId} is now ${status} (expected ${expected.join(' or ') || 'another status'}); retry`);
  }
}

/**
 * Training-job rows. Status changes are conditional UPDATEs on the current status, checked against
 * the transition table in @medfusion/domain, so concurrent writers (gateway, worker, reconciler)
 * cannot move a job along an illegal edge even when they race.
 */
export class TrainingJobRepository {
  private readonly repo: Repository<TrainingJobEntity>;

  constructor(ds: DataSource) {
    this.repo = ds.getRepository(TrainingJobEntity);
  }

  /** `manager`: create the row inside the caller's transaction (a sweep's trial and its job). */
  async create(input: CreateTrainingJob, owner: string, manager?: EntityManager): Promise<TrainingJobEntity> {
    const repo = manager ? manager.getRepository(TrainingJobEntity) : this.repo;
    return repo.save(
      repo.create({
        name: input.name,
        description: input.description,
        modelConfig: input.modelConfig,
        dataConfig: input.dataConfig,
        trainingConfig: input.trainingConfig,
        datasetId: input.dataConfig.datasetId,
        status: 'queued',
        totalEpochs: input.trainingConfig.epochs,
        owner,
        history: [],
      }),
    );
  }

  findById(id: string): Promise<TrainingJobEntity | null> {
    return this.repo.findOneBy({ id });
  }

  async getById(id: string): Promise<TrainingJobEntity> {
    const job = await this.findById(id);
    if (!job) throw new TrainingJobNotFoundError(id);
    return job;
  }

  async list(filter: TrainingJobListFilter): Promise<{ items: TrainingJobEntity[]; total: number }> {
    const [items, total] = await this.repo.findAndCount({
      where: { ...(filter.status && { status: filter.status }), ...(filter.owner && { owner: filter.owner }) },
      order: { createdAt: 'DESC', id: 'ASC' },
      take: filter.limit,
      skip: filter.offset,
    });
    return { items, total };
  }

  /**
   * Moves a job to `to` if its current status allows it, applying `patch` in the same statement.
   * Throws InvalidTransitionError (with the status it found) when it does not.
   */
  async transition(id: string, to: TrainingJobStatus, patch: Partial<TrainingJobEntity> = {}, from?: TrainingJobStatus[]): Promise<TrainingJobEntity> {
    const allowedFrom = (from ?? statusesAllowingTransitionTo(to)).filter((s) => canTransition(s, to));
    const result = allowedFrom.length
      ? await this.repo
          .createQueryBuilder()
          .update(TrainingJobEntity)
          .set({ ...patch, status: to })
          .where('id = :id AND status IN (:...allowedFrom)', { id, allowedFrom })
          .execute()
      : { affected: 0 };
    if (result.affected) return this.getById(id);
    const current = await this.getById(id);
    assertTransition(id, current.status, to);
    throw new StatusChangedError(id, current.status, allowedFrom);
  }

  /**
   * Records (or withdraws, with null) a pause/stop request for a running job; the worker acts on it
   * between steps. Returns null when the job is not running.
   */
  async setDesiredState(id: string, action: TrainingControlAction | null): Promise<TrainingJobEntity | null> {
    const result = await this.repo.update({ id, status: 'running' }, { desiredState: action });
    return result.affected ? this.getById(id) : null;
  }

  /** Ids of jobs in the given statuses, oldest first; used by the reconciler. */
  async idsInStatus(statuses: TrainingJobStatus[]): Promise<string[]> {
    const rows = await this.repo.find({ select: { id: true }, where: { status: In(statuses) }, order: { createdAt: 'ASC' } });
    return rows.map((r) => r.id);
  }

  /** Deletes unless the job is running; returns false when the job is running. */
  async deleteUnlessRunning(id: string): Promise<boolean> {
    const result = await this.repo.delete({ id, status: Not('running') });
    return Boolean(result.affected);
  }
}
