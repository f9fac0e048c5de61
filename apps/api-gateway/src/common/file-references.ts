import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { confinePath, PathNotAllowedError } from '@medfusion/artifacts';
import { dataRoots } from '@medfusion/config';
import { initialWeightsSchema, type InitialWeightsRef, type ModelConfig } from '@medfusion/contracts';
import { mayUseFiles, type Principal } from '@medfusion/domain';
import { ModelEntity, TrainingCheckpointEntity, TrainingJobEntity } from '@medfusion/persistence';
import { GatewayConfig } from '../infrastructure/gateway-config.js';
import { ApiError } from './api-error.js';

/** Keys of free-form configs (workflow nodes) that name files on the workers. */
const PATH_KEYS = new Set(['dataPath', 'weightsPath']);
const WEIGHTS_REF_KEY = 'initialWeights';

/**
 * The one place the gateway checks what a request says about files on the workers: paths
 * (`dataPath`, `modelConfig.weightsPath`) must lie under the data roots, symbolic links resolved,
 * and stored weights named by id (`modelConfig.initialWeights`) must be the caller's. A refusal is a
 * 422 naming the field, raised before anything is written. The workers check again where they open
 * the files (apps/gpu-worker), since a link can change after this check.
 */
@Injectable()
export class FileReferences {
  readonly roots: string[];

  constructor(
    private readonly ds: DataSource,
    config: GatewayConfig,
  ) {
    this.roots = dataRoots(config.env);
  }

  /** The real path of a user-given path under the data roots, or a 422 naming `field`. */
  async confine(input: string, field: string): Promise<string> {
    try {
      return await confinePath(input, this.roots, field);
    } catch (err) {
      if (err instanceof PathNotAllowedError) throw unprocessable(field, err.detail);
      throw err;
    }
  }

  /** A job's model config (a training job's, a sweep's base job's): its weights path and weights id. `field` is its body path, e.g. `body.modelConfig`. */
  async checkModelConfig(mc: Pick<ModelConfig, 'weightsPath' | 'initialWeights'>, field: string, p: Principal): Promise<void> {
    if (mc.weightsPath !== undefined) await this.confine(mc.weightsPath, `${field}.weightsPath`);
    if (mc.initialWeights !== undefined) await this.checkInitialWeights(mc.initialWeights, `${field}.initialWeights`, p);
  }

  /**
   * A stored model or checkpoint the caller may start from: it exists and the caller owns it (a
   * checkpoint through its training job) or is an admin. Unknown and not-yours get the same answer,
   * so the field does not reveal another owner's ids.
   */
  async checkInitialWeights(ref: InitialWeightsRef, field: string, p: Principal): Promise<void> {
    if ('modelId' in ref) {
      const model = await this.ds.getRepository(ModelEntity).findOneBy({ id: ref.modelId });
      if (!model || !mayUseFiles(p, model.createdBy)) throw unprocessable(`${field}.modelId`, `no model with id ${ref.modelId} whose weights you may use`);
      return;
    }
    const ckpt = await this.ds.getRepository(TrainingCheckpointEntity).findOneBy({ id: ref.checkpointId });
    const job = ckpt ? await this.ds.getRepository(TrainingJobEntity).findOne({ where: { id: ckpt.jobId }, select: { id: true, owner: true } }) : null;
    if (!job || !mayUseFiles(p, job.owner)) throw unprocessable(`${field}.checkpointId`, `no checkpoint with id ${ref.checkpointId} whose weights you may use`);
  }

  /**
   * Workflow node configs are free-form until the scheduler runs them, so any `dataPath`,
   * `weightsPath` or `initialWeights` in them, at any depth, gets the same checks now.
   */
  async checkFreeForm(value: unknown, field: string, p: Principal): Promise<void> {
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) await this.checkFreeForm(item, `${field}.${i}`, p);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    for (const [key, inner] of Object.entries(value)) {
      const at = `${field}.${key}`;
      if (PATH_KEYS.has(key)) {
        if (typeof inner !== 'string') throw unprocessable(at, 'must be a path (a string)');
        await this.confine(inner, at);
      } else if (key === WEIGHTS_REF_KEY) {
        const ref = initialWeightsSchema.safeParse(inner);
        if (!ref.success) throw unprocessable(at, 'must be { "modelId": uuid } or { "checkpointId": uuid }');
        await this.checkInitialWeights(ref.data, at, p);
      } else {
        await this.checkFreeForm(inner, at, p);
      }
    }
  }
}

function unprocessable(field: string, message: string): ApiError {
  return ApiError.fields(HttpStatus.UNPROCESSABLE_ENTITY, [{ field, message }]);
}
