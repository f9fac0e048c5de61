import { In, type DataSource, type EntityManager, type Repository } from 'typeorm';
import type { CreateSweep, CreateTrainingJob, SweepStatus, SweepTrialState, TrialParams } from '@medfusion/contracts';
import { ModelEntity } from '../entities/model.entity.js';
import { SweepEntity } from '../entities/sweep.entity.js';
import { TrainingJobEntity } from '../entities/training-job.entity.js';
import { TrialEntity } from '../entities/trial.entity.js';
import { isUniqueViolation } from '../pg-errors.js';
import { TrainingJobRepository } from './training-job.repository.js';

export interface SweepListFilter {
  status?: SweepStatus;
  owner?: string;
  limit: number;
  offset: number;
}

export interface TrialListFilter {
  state?: SweepTrialState;
  limit: number;
  offset: number;
}

/** Refusals of a user's request on a sweep, with the reason to show. */
export class SweepConflictError extends Error {
  readonly code = 'SWEEP_CONFLICT';
  constructor(
    readonly sweepId: string,
    message: string,
  ) {
    super(message);
  }
}

export interface NewTrial {
  number: number;
  params: TrialParams;
  samplerAttrs: Record<string, number>;
  /** Set when the trial was enqueued by a user and is leaving `waiting`. */
  waitingTrialId?: string;
}

/** A unique (sweep_id, number) violation: another driver pass created that trial first. */
export function isDuplicateTrialNumber(err: unknown): boolean {
  return isUniqueViolation(err, 'uq_trials_sweep_number');
}

const ACTIVE: SweepStatus[] = ['running', 'stopping'];

/**
 * Sweeps and trials. Every write is one short statement or a short transaction (a trial with its
 * training job), and state changes are conditional on the state the writer saw, so a driver that
 * restarted, or a second one racing it, can never move a trial twice or create one twice.
 */
export class SweepRepository {
  private readonly sweeps: Repository<SweepEntity>;
  private readonly trials: Repository<TrialEntity>;
  private readonly jobs: TrainingJobRepository;

  constructor(private readonly ds: DataSource) {
    this.sweeps = ds.getRepository(SweepEntity);
    this.trials = ds.getRepository(TrialEntity);
    this.jobs = new TrainingJobRepository(ds);
  }

  /** The sweep and its enqueued trials (waiting, numbered from 0 in the given order), together. */
  /** `manager`: inside the caller's transaction (a savepoint), e.g. with the request's Idempotency-Key. */
  async create(config: CreateSweep, owner: string, manager?: EntityManager): Promise<SweepEntity> {
    return (manager ?? this.ds.manager).transaction(async (tx) => {
      const sweep = await tx.getRepository(SweepEntity).save(
        tx.getRepository(SweepEntity).create({
          name: config.name,
          description: config.description,
          config,
          status: 'running',
          trialCounts: config.enqueueTrials.length ? { waiting: config.enqueueTrials.length } : {},
          owner,
          startedAt: new Date(),
        }),
      );
      if (config.enqueueTrials.length) {
        await tx.getRepository(TrialEntity).insert(
          config.enqueueTrials.map((params, number) => ({ sweepId: sweep.id, number, state: 'waiting' as const, params, enqueued: true })),
        );
      }
      return sweep;
    });
  }

  findById(id: string): Promise<SweepEntity | null> {
    return this.sweeps.findOneBy({ id });
  }

  async list(filter: SweepListFilter): Promise<{ items: SweepEntity[]; total: number }> {
    const [items, total] = await this.sweeps.findAndCount({
      where: { ...(filter.status && { status: filter.status }), ...(filter.owner && { owner: filter.owner }) },
      order: { createdAt: 'DESC', id: 'ASC' },
      take: filter.limit,
      skip: filter.offset,
    });
    return { items, total };
  }

  async listTrials(sweepId: string, filter: TrialListFilter): Promise<{ items: TrialEntity[]; total: number }> {
    const [items, total] = await this.trials.findAndCount({
      where: { sweepId, ...(filter.state && { state: filter.state }) },
      order: { number: 'ASC' },
      take: filter.limit,
      skip: filter.offset,
    });
    return { items, total };
  }

  /** Every trial of the sweep, by number: what samplers and pruners decide from. */
  allTrials(sweepId: string): Promise<TrialEntity[]> {
    return this.trials.find({ where: { sweepId }, order: { number: 'ASC' } });
  }

  findTrial(id: string): Promise<TrialEntity | null> {
    return this.trials.findOneBy({ id });
  }

  /**
   * Adds a waiting trial with chosen parameters (numbered after the last one). The sweep row is
   * locked for the few statements this takes, so two enqueues cannot overshoot the trial budget.
   * `manager`: inside the caller's transaction (a savepoint).
   */
  async enqueueTrial(sweepId: string, params: TrialParams, manager?: EntityManager): Promise<TrialEntity> {
    return (manager ?? this.ds.manager).transaction(async (tx) => {
      const sweep = await tx.getRepository(SweepEntity).findOne({ where: { id: sweepId }, lock: { mode: 'pessimistic_write' } });
      if (!sweep) throw new SweepConflictError(sweepId, `sweep ${sweepId} not found`);
      if (sweep.status !== 'running') throw new SweepConflictError(sweepId, `sweep ${sweepId} is ${sweep.status}; trials can be enqueued only while it runs`);
      const [{ count, next }] = (await tx.query(`SELECT count(*)::int AS count, COALESCE(max(number) + 1, 0)::int AS next FROM trials WHERE sweep_id = $1`, [sweepId])) as [
        { count: number; next: number },
      ];
      if (count >= sweep.config.budget.maxTrials) {
        throw new SweepConflictError(sweepId, `sweep ${sweepId} already has ${count} trials, its budget (budget.maxTrials ${sweep.config.budget.maxTrials})`);
      }
      const trial = tx.getRepository(TrialEntity).create({ sweepId, number: next, state: 'waiting', params, enqueued: true });
      return tx.getRepository(TrialEntity).save(trial);
    });
  }

  /** Asks a running sweep to stop (the driver stops its trials); returns null if it was not running. */
  async requestStop(sweepId: string): Promise<SweepEntity | null> {
    const result = await this.sweeps.update({ id: sweepId, status: 'running' }, { status: 'stopping' });
    return result.affected ? this.findById(sweepId) : null;
  }

  /** Sweeps the driver still has work for. */
  async activeSweepIds(): Promise<string[]> {
    const rows = await this.sweeps.find({ select: { id: true }, where: { status: In(ACTIVE) }, order: { createdAt: 'ASC' } });
    return rows.map((r) => r.id);
  }

  /** The sweep a training job belongs to, if it is a trial's job. */
  async sweepIdOfTrainingJob(trainingJobId: string): Promise<string | null> {
    const row = await this.trials.findOne({ select: { sweepId: true }, where: { trainingJobId } });
    return row?.sweepId ?? null;
  }

  /**
   * Starts a trial: the trial row (new, or the waiting one) and its queued training job in one
   * transaction. Returns null when a concurrent pass started that waiting trial or took the number.
   */
  async startTrial(sweepId: string, owner: string, trial: NewTrial, job: CreateTrainingJob): Promise<{ trial: TrialEntity; job: TrainingJobEntity } | null> {
    try {
      return await this.ds.transaction(async (tx) => {
        const created = await this.jobs.create(job, owner, tx);
        const repo = tx.getRepository(TrialEntity);
        const fields = { state: 'running' as const, params: trial.params, samplerAttrs: trial.samplerAttrs, trainingJobId: created.id, startedAt: new Date() };
        if (trial.waitingTrialId) {
          const res = await repo.update({ id: trial.waitingTrialId, state: 'waiting' }, fields);
          // Throwing rolls the job back with it.
          if (!res.affected) throw new TrialAlreadyStarted();
          return { trial: (await repo.findOneByOrFail({ id: trial.waitingTrialId })), job: created };
        }
        const saved = await repo.save(repo.create({ sweepId, number: trial.number, ...fields }));
        return { trial: saved, job: created };
      });
    } catch (err) {
      if (err instanceof TrialAlreadyStarted || isDuplicateTrialNumber(err)) return null;
      throw err;
    }
  }

  /** A trial whose parameters could not make a training job: recorded as failed, numbered like the others. */
  async insertFailedTrial(sweepId: string, trial: Omit<NewTrial, 'waitingTrialId'>, error: string): Promise<TrialEntity | null> {
    const now = new Date();
    try {
      return await this.trials.save(this.trials.create({ sweepId, ...trial, state: 'failed', error, startedAt: now, finishedAt: now, duration: 0 }));
    } catch (err) {
      if (isDuplicateTrialNumber(err)) return null;
      throw err;
    }
  }

  /** Writes a trial's new fields if it is still in state `from`; false when someone moved it first. */
  async updateTrial(id: string, from: SweepTrialState, patch: Partial<TrialEntity>): Promise<boolean> {
    const res = await this.trials.update({ id, state: from }, patch);
    return Boolean(res.affected);
  }

  /** Progress figures for readers; written on every pass of an active sweep. */
  async setProgress(sweepId: string, trialCounts: Partial<Record<SweepTrialState, number>>, bestTrialId: string | null): Promise<void> {
    await this.sweeps.update({ id: sweepId }, { trialCounts, bestTrialId });
  }

  /** Ends an active sweep; false when it had already ended. */
  async finish(sweepId: string, status: Extract<SweepStatus, 'completed' | 'stopped' | 'failed'>, patch: Pick<SweepEntity, 'finishReason' | 'error' | 'bestTrialId' | 'trialCounts'>): Promise<boolean> {
    const res = await this.sweeps.update({ id: sweepId, status: In(ACTIVE) }, { ...patch, status, finishedAt: new Date() });
    return Boolean(res.affected);
  }

  /** The training jobs of these trials, with what the driver reads (status, history, final metrics). */
  trainingJobs(ids: string[]): Promise<TrainingJobEntity[]> {
    if (!ids.length) return Promise.resolve([]);
    return this.ds.getRepository(TrainingJobEntity).find({
      select: { id: true, status: true, desiredState: true, history: true, currentMetrics: true, error: true, duration: true, completedAt: true, startedAt: true },
      where: { id: In(ids) },
    });
  }

  /** The model a completed training job registered. */
  async modelIdOfTrainingJob(trainingJobId: string): Promise<string | null> {
    const row = await this.ds.getRepository(ModelEntity).findOne({ select: { id: true }, where: { trainingJobId }, order: { createdAt: 'DESC' } });
    return row?.id ?? null;
  }
}

class TrialAlreadyStarted extends Error {}
