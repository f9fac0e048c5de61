import { RNG_PURPOSE, tuningRng, type TuningRng } from '../random/tuning-rng.js';
import { isParamActive, paramsInSamplingOrder, type ParamValues } from '../space/param-order.js';
import { numericFromUnit } from '../space/param-encoding.js';
import type { ParamSpec, SearchSpace } from '../space/search-space.schema.js';
import type { Proposal, SampleRequest, Sampler } from './sampler.js';

/** One value drawn uniformly from a parameter's domain (log-uniform for log parameters). */
export function sampleParamUniformly(spec: ParamSpec, rng: TuningRng): ParamValues[string] {
  if (spec.type === 'categorical') return spec.choices[rng.int(spec.choices.length)]!;
  return numericFromUnit(spec, rng.next());
}

/** Fills the active parameters of `space` missing from `fixed` with uniform draws, in sampling order. */
export function completeParamsUniformly(space: SearchSpace, fixed: ParamValues, rng: TuningRng): ParamValues {
  const params: ParamValues = {};
  for (const { name, spec } of paramsInSamplingOrder(space)) {
    if (!isParamActive(spec, params)) continue;
    params[name] = Object.hasOwn(fixed, name) ? fixed[name]! : sampleParamUniformly(spec, rng);
  }
  return params;
}

export function createRandomSampler(): Sampler {
  return {
    name: 'random',
    propose(request: SampleRequest): Proposal {
      const rng = tuningRng(request.seed, request.trialNumber, RNG_PURPOSE.random);
      return { params: completeParamsUniformly(request.space, {}, rng), samplerAttrs: {} };
    },
  };
}
