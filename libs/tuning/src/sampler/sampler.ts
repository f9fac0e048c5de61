import type { SearchSpace } from '../space/search-space.schema.js';
import type { ParamValues } from '../space/param-order.js';
import type { Direction, Trial } from '../trial/trial.js';

/** Everything a sampler may look at to propose one trial's parameters. */
export interface SampleRequest {
  space: SearchSpace;
  /** Every trial of the study so far, in any state; the trial being proposed may be absent. */
  trials: readonly Trial[];
  /** Number of the trial to propose: with `seed` it names the random stream used. */
  trialNumber: number;
  seed: number;
  /** One per objective; single-objective samplers read the first. Default: ['minimize']. */
  directions?: readonly Direction[];
}

export interface Proposal {
  params: ParamValues;
  /** To store with the trial (`Trial.samplerAttrs`); the sampler reads them back later. */
  samplerAttrs: Record<string, number>;
}

/**
 * A sampler is a deterministic function of its request: the same space, trials, seed and trial
 * number always give the same proposal, whatever was proposed before (samplers may cache work
 * internally, never decisions).
 */
export interface Sampler {
  readonly name: string;
  propose(request: SampleRequest): Proposal;
}

/** The trials other than the one being proposed (a driver may pass it in while it is running). */
export function otherTrials(request: SampleRequest): Trial[] {
  return request.trials.filter((t) => t.number !== request.trialNumber);
}

export function directionsOf(request: SampleRequest): readonly Direction[] {
  return request.directions && request.directions.length > 0 ? request.directions : ['minimize'];
}
