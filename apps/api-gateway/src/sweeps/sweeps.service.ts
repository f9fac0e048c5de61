import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { enqueuedParamsIssues, type CreateSweep, type EnqueueTrial, type ListSweepsQuery, type ListTrialsQuery, type Page } from '@medfusion/contracts';
import { listOwnerFilter, type Principal } from '@medfusion/domain';
import { DatasetEntity, SweepConflictError, SweepRepository, type SweepEntity, type TrialEntity } from '@medfusion/persistence';
import { SweepEventPublisher } from '@medfusion/queue';
import type { Logger } from '@medfusion/runtime';
import { bestTrial, paretoFront } from '@medfusion/sweeps';
import { assertMayChange, assertMayRead, notFound } from '../auth/forbidden.js';
import { ApiError } from '../common/api-error.js';
import { FileReferences } from '../common/file-references.js';
import { page } from '../common/page.js';
import { modelConfigWithoutPath } from '../common/server-paths.js';
import { GatewayConfig } from '../infrastructure/gateway-config.js';
import { LOGGER, REDIS } from '../infrastructure/infrastructure.module.js';
import { commitWithIdempotencyKey } from '../idempotency/idempotency.service.js';

/** A sweep as GET /sweeps/:id returns it: the row, its best trial (with the model) and Pareto front. */
export type SweepDetail = SweepEntity & {
  bestTrial: (TrialEntity & { modelId: string | null }) | null;
  paretoFront: TrialEntity[];
};

/**
 * Sweeps over REST. The gateway only writes rows; the scheduler's sweep driver starts trials, and a
 * wake-up message on Redis tells it to look now (its periodic pass finds the change if Redis
 * drops the message).
 */
@Injectable()
export class SweepsService {
  private readonly sweeps: SweepRepository;
  private readonly publisher: SweepEventPublisher;

  constructor(
    private readonly ds: DataSource,
    config: GatewayConfig,
    @Inject(REDIS) redis: Redis,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly files: FileReferences,
  ) {
    this.sweeps = new SweepRepository(ds);
    this.publisher = new SweepEventPublisher(redis, config.env.REDIS_PREFIX);
  }

  async create(input: CreateSweep, p: Principal): Promise<SweepEntity> {
    const datasetId = input.baseTrainingJob.dataConfig.datasetId;
    if (!(await this.ds.getRepository(DatasetEntity).existsBy({ id: datasetId }))) {
      throw ApiError.fields(HttpStatus.BAD_REQUEST, [{ field: 'body.baseTrainingJob.dataConfig.datasetId', message: `no dataset with id ${datasetId}` }]);
    }
    // Every trial starts from these weights; the search space may not vary them (createSweepSchema).
    await this.files.checkModelConfig(input.baseTrainingJob.modelConfig, 'body.baseTrainingJob.modelConfig', p);
    const sweep = await commitWithIdempotencyKey(this.ds, (m) => this.sweeps.create(input, p.owner, m));
    await this.wake(sweep.id);
    return sweep;
  }

  async list(q: ListSweepsQuery, p: Principal): Promise<Page<SweepEntity>> {
    const { items, total } = await this.sweeps.list({ ...q, owner: listOwnerFilter(p, 'owned') });
    return page(
      items.map((s) => present(s, p)),
      total,
      q,
    );
  }

  async get(id: string, p: Principal): Promise<SweepDetail> {
    const sweep = await this.readable(id, p);
    const trials = await this.sweeps.allTrials(id);
    const best = bestTrial(trials, sweep.config.objectives);
    const modelId = best?.trainingJobId ? await this.sweeps.modelIdOfTrainingJob(best.trainingJobId) : null;
    return Object.assign(present(sweep, p), {
      bestTrial: best ? Object.assign(best, { modelId }) : null,
      paretoFront: paretoFront(trials, sweep.config.objectives),
    });
  }

  async trials(id: string, q: ListTrialsQuery, p: Principal): Promise<Page<TrialEntity>> {
    await this.readable(id, p);
    const { items, total } = await this.sweeps.listTrials(id, q);
    return page(items, total, q);
  }

  /** Optuna's enqueue_trial: runs before sampled trials; parameters left out are drawn at random. */
  async enqueue(id: string, input: EnqueueTrial, p: Principal): Promise<TrialEntity> {
    const sweep = await this.changeable(id, p);
    const issues = enqueuedParamsIssues(sweep.config.searchSpace, input.params);
    if (issues.length) throw ApiError.fields(HttpStatus.BAD_REQUEST, issues.map((i) => ({ field: ['body', 'params', ...i.path].join('.'), message: i.message })));
    const trial = await commitWithIdempotencyKey(this.ds, (m) => this.sweeps.enqueueTrial(id, input.params, m)).catch(conflict);
    await this.wake(id);
    return trial;
  }

  /** Running trials get a stop request through the training control path; the sweep ends as stopped. */
  async stop(id: string, p: Principal): Promise<SweepEntity> {
    const sweep = await this.changeable(id, p);
    if (sweep.status === 'stopping') return sweep;
    const stopping = await this.sweeps.requestStop(id);
    if (!stopping) {
      const now = (await this.sweeps.findById(id)) ?? sweep;
      if (now.status === 'stopping') return now;
      throw new ApiError(HttpStatus.CONFLICT, `sweep ${id} is already ${now.status}`, [{ field: 'id', message: `sweep is ${now.status}` }]);
    }
    await this.wake(id);
    return stopping;
  }

  private async wake(id: string): Promise<void> {
    await this.publisher.wake(id).catch((err: unknown) => {
      // The row is written; the driver's periodic pass picks it up.
      this.logger.warn({ err, sweepId: id }, 'could not wake the sweep driver');
    });
  }

  private async readable(id: string, p: Principal): Promise<SweepEntity> {
    const sweep = await this.sweeps.findById(id);
    if (!sweep) throw notFound('sweep', id);
    assertMayRead(p, 'owned', 'sweep', id, sweep.owner);
    return sweep;
  }

  private async changeable(id: string, p: Principal): Promise<SweepEntity> {
    const sweep = await this.sweeps.findById(id);
    if (!sweep) throw notFound('sweep', id);
    assertMayChange(p, 'owned', 'sweep', id, sweep.owner);
    return sweep;
  }
}

/** The sweep as `p` may see it: the base job's weightsPath for its owner and admins only. */
function present(sweep: SweepEntity, p: Principal): SweepEntity {
  const base = sweep.config.baseTrainingJob;
  const modelConfig = modelConfigWithoutPath(base.modelConfig, p, sweep.owner);
  return modelConfig === base.modelConfig ? sweep : { ...sweep, config: { ...sweep.config, baseTrainingJob: { ...base, modelConfig } } };
}

function conflict(err: unknown): never {
  if (err instanceof SweepConflictError) throw new ApiError(HttpStatus.CONFLICT, err.message, [{ field: 'id', message: err.message }]);
  throw err;
}
