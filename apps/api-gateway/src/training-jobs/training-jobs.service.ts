import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { type CreateTrainingJob, type ListTrainingJobsQuery, type Page, type TrainingControlAction, type TrainingRank } from '@medfusion/contracts';
import { listOwnerFilter, type Principal } from '@medfusion/domain';
import { DatasetEntity, GangRepository, isGangJob, TrainingJobEntity, TrainingJobRepository } from '@medfusion/persistence';
import { TrainingControlRequester, TrainingQueue } from '@medfusion/queue';
import type { Logger } from '@medfusion/runtime';
import { assertMayChange, assertMayRead, notFound } from '../auth/forbidden.js';
import { ApiError } from '../common/api-error.js';
import { FileReferences } from '../common/file-references.js';
import { page } from '../common/page.js';
import { modelConfigWithoutPath, withoutServerPaths } from '../common/server-paths.js';
import { GatewayConfig } from '../infrastructure/gateway-config.js';
import { LOGGER, REDIS } from '../infrastructure/infrastructure.module.js';
import { commitWithIdempotencyKey } from '../idempotency/idempotency.service.js';

type PresentedJob = TrainingJobEntity | Omit<TrainingJobEntity, 'modelPath' | 'checkpointPath'>;

/** The job as `p` may see it: server paths for its owner and admins only (a viewer reads others' jobs). */
function present(job: TrainingJobEntity, p: Principal): PresentedJob {
  const shown = withoutServerPaths(job, ['modelPath', 'checkpointPath'], p, job.owner);
  return { ...shown, modelConfig: modelConfigWithoutPath(job.modelConfig, p, job.owner) };
}

@Injectable()
export class TrainingJobsService {
  private readonly controls: TrainingControlRequester;
  private readonly gangs: GangRepository;

  constructor(
    private readonly jobs: TrainingJobRepository,
    private readonly queue: TrainingQueue,
    private readonly ds: DataSource,
    config: GatewayConfig,
    @Inject(REDIS) redis: Redis,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly files: FileReferences,
  ) {
    this.controls = new TrainingControlRequester(jobs, queue, redis, config.env.REDIS_PREFIX, logger);
    this.gangs = new GangRepository(ds);
  }

  /**
   * Writes the row (queued), with the Idempotency-Key's response in the same transaction, then
   * queues it under the row's id. If Redis refuses (or the gateway dies first), the row stays
   * queued and the scheduler's reconciler adds it later, so the job is never lost.
   */
  async create(input: CreateTrainingJob, p: Principal): Promise<TrainingJobEntity> {
    const datasetId = input.dataConfig.datasetId;
    if (!(await this.ds.getRepository(DatasetEntity).existsBy({ id: datasetId }))) {
      throw ApiError.fields(HttpStatus.BAD_REQUEST, [{ field: 'body.dataConfig.datasetId', message: `no dataset with id ${datasetId}` }]);
    }
    await this.files.checkModelConfig(input.modelConfig, 'body.modelConfig', p);
    const job = await commitWithIdempotencyKey(this.ds, (m) => this.jobs.create(input, p.owner, m));
    await this.enqueue(job);
    return job;
  }

  async list(q: ListTrainingJobsQuery, p: Principal): Promise<Page<PresentedJob>> {
    const { items, total } = await this.jobs.list({ ...q, owner: listOwnerFilter(p, 'owned') });
    return page(
      items.map((job) => present(job, p)),
      total,
      q,
    );
  }

  /** The job; a multi-worker job also lists its current (or last) gang's ranks. */
  async get(id: string, p: Principal): Promise<PresentedJob & { ranks?: TrainingRank[] }> {
    const job = await this.find(id);
    assertMayRead(p, 'owned', 'training job', id, job.owner);
    const shown = present(job, p);
    return isGangJob(job) ? { ...shown, ranks: await this.gangs.ranksView(id) } : shown;
  }

  /**
   * Queued jobs pause at once (and leave the queue); running jobs get a pause request that their
   * worker acts on after the current step, checkpointing first.
   */
  async pause(id: string, p: Principal): Promise<TrainingJobEntity> {
    return this.control(id, p, 'pause');
  }

  async stop(id: string, p: Principal): Promise<TrainingJobEntity> {
    return this.control(id, p, 'stop');
  }

  /**
   * Paused jobs go back to the queue and continue from their last checkpoint. Resuming a running
   * job whose pause request the worker has not acted on yet withdraws the request.
   */
  async resume(id: string, p: Principal): Promise<TrainingJobEntity> {
    const job = await this.find(id);
    assertMayChange(p, 'owned', 'training job', id, job.owner);
    if (job.status === 'running' && job.desiredState === 'pause') {
      return (await this.jobs.setDesiredState(id, null)) ?? this.resume(id, p);
    }
    const resumed = await this.jobs.transition(id, 'queued', { desiredState: null }, ['paused']);
    await this.enqueue(resumed);
    return resumed;
  }

  async remove(id: string, p: Principal): Promise<void> {
    const job = await this.find(id);
    assertMayChange(p, 'owned', 'training job', id, job.owner);
    if (!(await this.jobs.deleteUnlessRunning(id))) {
      throw new ApiError(HttpStatus.CONFLICT, `training job ${id} is running; stop it before deleting it`, [{ field: 'id', message: 'job is running' }]);
    }
    await this.queue.removeIfWaiting(id);
  }

  private async control(id: string, p: Principal, action: TrainingControlAction): Promise<TrainingJobEntity> {
    const job = await this.find(id);
    assertMayChange(p, 'owned', 'training job', id, job.owner);
    return this.controls.request(id, action);
  }

  /** Single-worker jobs go to the training queue; multi-worker jobs wait in Postgres for the gang scheduler. */
  private async enqueue(job: TrainingJobEntity): Promise<void> {
    if (isGangJob(job)) return;
    try {
      await this.queue.enqueue(job.id);
    } catch (err) {
      this.logger.error({ err, jobId: job.id }, 'training job saved but not queued; the reconciler will queue it');
    }
  }

  private async find(id: string): Promise<TrainingJobEntity> {
    const job = await this.jobs.findById(id);
    if (!job) throw notFound('training job', id);
    return job;
  }
}

