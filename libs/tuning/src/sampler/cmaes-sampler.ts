import { RNG_PURPOSE, tuningRng } from '../random/tuning-rng.js';
import { paramsInSamplingOrder, type NamedParam, type ParamValues } from '../space/param-order.js';
import { numericFromUnit, numericToUnit } from '../space/param-encoding.js';
import type { NumericParam, SearchSpace } from '../space/search-space.schema.js';
import { askCmaEs, cmaEsConstants, initialCmaEsState, tellCmaEs, type CmaEsState } from './cmaes/cma-es-state.js';
import { GenerationMemo, completeTrialsByGeneration } from './generation-replay.js';
import { completeParamsUniformly } from './random-sampler.js';
import { directionsOf, otherTrials, type Proposal, type SampleRequest, type Sampler } from './sampler.js';

export interface CmaEsSamplerOptions {
  /** Candidates per generation; default 4 + floor(3 ln n). */
  populationSize?: number;
  /** Initial step size in the unit box (Optuna: a sixth of the range, 1/6 here). */
  sigma0?: number;
}

const GENERATION_ATTR = 'cmaGeneration';

interface CmaDimension {
  name: string;
  spec: NumericParam;
}

/**
 * CMA-ES over the unconditional float and int parameters, each mapped to [0, 1] (log-scaled where
 * the parameter is log). Categorical and conditional parameters are drawn at random (as Optuna's
 * CmaEsSampler leaves them to its independent sampler).
 *
 * Each proposal records its generation in `samplerAttrs.cmaGeneration`. The state is rebuilt by
 * replaying generations: generation g is told its first `lambda` complete trials (by number) once
 * it has that many, then proposals move to g + 1. Replays are cached per sampler instance; a
 * fresh instance on the same trials gives the same proposals.
 */
export function createCmaEsSampler(options: CmaEsSamplerOptions = {}): Sampler {
  let cache: { spaceKey: string; memo: GenerationMemo<CmaEsState> } | undefined;
  return {
    name: 'cmaes',
    propose(request: SampleRequest): Proposal {
      const dims = cmaDimensions(request.space);
      const rng = tuningRng(request.seed, request.trialNumber, RNG_PURPOSE.cmaes);
      if (dims.length === 0) return { params: completeParamsUniformly(request.space, {}, rng), samplerAttrs: {} };
      const constants = cmaEsConstants(dims.length, options.populationSize);
      const directions = directionsOf(request);
      if (directions.length !== 1) throw new Error(`the CMA-ES sampler optimises one objective, the study has ${directions.length}: use the NSGA-II sampler`);
      const sign = directions[0] === 'maximize' ? -1 : 1;
      const spaceKey = JSON.stringify([request.space, constants.lambda, options.sigma0 ?? 1 / 6]);
      const initial = initialCmaEsState(dims.length, new Array<number>(dims.length).fill(0.5), options.sigma0 ?? 1 / 6);
      if (cache?.spaceKey !== spaceKey) cache = { spaceKey, memo: new GenerationMemo(initial) };

      const byGeneration = completeTrialsByGeneration(otherTrials(request), GENERATION_ATTR, (t) => dims.every((d) => typeof t.params[d.name] === 'number'));
      let state = initial;
      let g = 0;
      for (;;) {
        const members = byGeneration.get(g) ?? [];
        if (members.length < constants.lambda) break;
        // Trial numbers and values identify a generation within one study (params follow from the number).
        const told = members.slice(0, constants.lambda);
        state = cache.memo.after(g, told, (previous) =>
          tellCmaEs(previous, constants, told.map((t) => ({ x: dims.map((d) => numericToUnit(d.spec, t.params[d.name] as number)), value: sign * t.values![0]! }))),
        );
        g++;
      }
      const x = askCmaEs(state, rng);
      const fixed: ParamValues = {};
      dims.forEach((d, i) => (fixed[d.name] = numericFromUnit(d.spec, x[i]!)));
      return { params: completeParamsUniformly(request.space, fixed, rng), samplerAttrs: { [GENERATION_ATTR]: g } };
    },
  };
}

function cmaDimensions(space: SearchSpace): CmaDimension[] {
  return paramsInSamplingOrder(space)
    .filter((p): p is NamedParam & { spec: NumericParam } => p.spec.type !== 'categorical' && p.spec.condition === undefined)
    .map(({ name, spec }) => ({ name, spec }));
}
