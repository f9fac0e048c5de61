import { RNG_PURPOSE, tuningRng, type TuningRng } from '../../random/tuning-rng.js';
import { isParamActive, paramsInSamplingOrder, type NamedParam, type ParamValues } from '../../space/param-order.js';
import { choiceIndex, snapNumeric } from '../../space/param-encoding.js';
import type { ChoiceValue, ParamSpec } from '../../space/search-space.schema.js';
import type { Trial } from '../../trial/trial.js';
import { completeParamsUniformly, sampleParamUniformly } from '../random-sampler.js';
import { directionsOf, otherTrials, type Proposal, type SampleRequest, type Sampler } from '../sampler.js';
import { defaultGamma, defaultWeights, ParzenEstimator, type ParzenDimension, type ParzenParameters } from './parzen-estimator.js';
import { splitTrials } from './tpe-trial-split.js';

const { log, exp } = Math;

export interface TpeSamplerOptions {
  /** Random proposals until this many trials are complete or pruned (Optuna: 10). */
  nStartupTrials?: number;
  /** Candidates drawn from l(x), of which the one maximising l(x)/g(x) wins (Optuna: 24). */
  nEiCandidates?: number;
  /** Number of good trials among n (Optuna: min(ceil(0.1 n), 25)). */
  gamma?: (n: number) => number;
  /** Observation weights in trial-number order (Optuna: flat for the newest 25, ramp before). */
  weights?: (n: number) => number[];
  priorWeight?: number;
  considerMagicClip?: boolean;
  considerEndpoints?: boolean;
  /**
   * Model the unconditional parameters jointly (a mixture of products) instead of one estimator per
   * parameter; conditional parameters are still sampled one by one.
   */
  multivariate?: boolean;
  /** Count running trials as the worst so parallel workers spread out (Optuna's constant liar). */
  constantLiar?: boolean;
}

/**
 * Tree-structured Parzen Estimator with Optuna's defaults. Single objective: reads the first
 * direction of the request.
 */
export function createTpeSampler(options: TpeSamplerOptions = {}): Sampler {
  const nStartup = options.nStartupTrials ?? 10;
  const nCandidates = options.nEiCandidates ?? 24;
  if (!(Number.isInteger(nCandidates) && nCandidates >= 1)) throw new Error(`nEiCandidates must be an integer >= 1, got ${nCandidates}`);
  const gamma = options.gamma ?? defaultGamma;
  const constantLiar = options.constantLiar ?? false;
  const parzen: ParzenParameters = {
    priorWeight: options.priorWeight ?? 1,
    considerMagicClip: options.considerMagicClip ?? true,
    considerEndpoints: options.considerEndpoints ?? false,
    multivariate: options.multivariate ?? false,
    weights: options.weights ?? defaultWeights,
  };
  return {
    name: parzen.multivariate ? 'tpe-multivariate' : 'tpe',
    propose(request: SampleRequest): Proposal {
      const directions = directionsOf(request);
      if (directions.length !== 1) throw new Error(`the TPE sampler optimises one objective, the study has ${directions.length}: use the NSGA-II sampler`);
      const rng = tuningRng(request.seed, request.trialNumber, RNG_PURPOSE.tpe);
      const trials = otherTrials(request);
      const finished = trials.filter((t) => (t.state === 'complete' && t.values !== undefined) || t.state === 'pruned');
      if (finished.length < nStartup) return { params: completeParamsUniformly(request.space, {}, rng), samplerAttrs: {} };
      const running = constantLiar ? trials.filter((t) => t.state === 'running') : [];
      const { below, above } = splitTrials(finished, running, gamma(finished.length), directions[0]!);

      const order = paramsInSamplingOrder(request.space);
      const params: ParamValues = {};
      if (parzen.multivariate) {
        const joint = order.filter((p) => p.spec.condition === undefined);
        Object.assign(params, sampleJointly(joint, below, above, rng, nCandidates, parzen));
      }
      for (const p of order) {
        if (Object.hasOwn(params, p.name) || !isParamActive(p.spec, params)) continue;
        params[p.name] = sampleJointly([p], below, above, rng, nCandidates, parzen)[p.name]!;
      }
      return { params, samplerAttrs: {} };
    },
  };
}

/** The parameters' values in TPE's internal representation (log space, choice indices). */
function toInternal(spec: ParamSpec, value: ChoiceValue): number {
  if (spec.type === 'categorical') return choiceIndex(spec.choices, value);
  return spec.log ? log(value as number) : (value as number);
}

function fromInternal(spec: ParamSpec, x: number): ChoiceValue {
  if (spec.type === 'categorical') return spec.choices[x]!;
  return snapNumeric(spec, spec.log ? exp(x) : x);
}

function dimensionOf(spec: ParamSpec): ParzenDimension {
  if (spec.type === 'categorical') return { kind: 'categorical', nChoices: spec.choices.length };
  if (spec.log) {
    // Log int parameters are modelled continuously in log space over their rounding cells.
    return spec.type === 'int' ? { kind: 'numeric', low: log(spec.low - 0.5), high: log(spec.high + 0.5), step: undefined } : { kind: 'numeric', low: log(spec.low), high: log(spec.high), step: undefined };
  }
  return { kind: 'numeric', low: spec.low, high: spec.high, step: spec.step };
}

/** Observations of the group from the trials where every parameter in it was set and valid. */
function observations(group: readonly NamedParam[], trials: readonly Trial[]): number[][] {
  const cols: number[][] = group.map(() => []);
  for (const t of trials) {
    // A value outside the current space (an edited space, a changed choice list) is left out.
    if (!group.every(({ name, spec }) => Object.hasOwn(t.params, name) && withinSpace(spec, t.params[name]!))) continue;
    group.forEach(({ name, spec }, i) => cols[i]!.push(toInternal(spec, t.params[name]!)));
  }
  return cols;
}

function withinSpace(spec: ParamSpec, value: ChoiceValue): boolean {
  if (spec.type === 'categorical') return spec.choices.includes(value);
  return typeof value === 'number' && value >= spec.low && value <= spec.high;
}

function sampleJointly(group: readonly NamedParam[], below: readonly Trial[], above: readonly Trial[], rng: TuningRng, nCandidates: number, parzen: ParzenParameters): ParamValues {
  if (group.length === 0) return {};
  const dims = group.map((p) => dimensionOf(p.spec));
  const lower = new ParzenEstimator(observations(group, below), dims, parzen);
  const upper = new ParzenEstimator(observations(group, above), dims, parzen);
  const candidates = lower.sample(rng, nCandidates);
  const ll = lower.logPdf(candidates);
  const lg = upper.logPdf(candidates);
  let best = 0;
  for (let i = 1; i < candidates.length; i++) if (ll[i]! - lg[i]! > ll[best]! - lg[best]!) best = i;
  const chosen = candidates[best];
  const out: ParamValues = {};
  group.forEach((p, d) => (out[p.name] = chosen ? fromInternal(p.spec, chosen[d]!) : sampleParamUniformly(p.spec, rng)));
  return out;
}
