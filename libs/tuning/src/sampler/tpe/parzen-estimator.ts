import { logNormalMass, logSumExp, normalLogPdf, truncatedStandardNormal } from '../../math/normal-distribution.js';
import type { TuningRng } from '../../random/tuning-rng.js';

const { log, min, max, round, ceil } = Math;

/** One dimension of the estimator, in TPE's internal representation (log space for log params). */
export type ParzenDimension =
  | { kind: 'numeric'; low: number; high: number; /** grid spacing of a discrete parameter */ step: number | undefined }
  | { kind: 'categorical'; nChoices: number };

export interface ParzenParameters {
  priorWeight: number;
  considerMagicClip: boolean;
  considerEndpoints: boolean;
  multivariate: boolean;
  /** Weight of each observation, given in trial-number order. */
  weights: (n: number) => number[];
}

/** Optuna's `default_gamma`: the number of trials that count as good. */
export function defaultGamma(n: number): number {
  return min(ceil(0.1 * n), 25);
}

/** Optuna's `default_weights`: the 25 newest observations weigh 1, older ones ramp down linearly. */
export function defaultWeights(n: number): number[] {
  if (n === 0) return [];
  if (n < 25) return new Array<number>(n).fill(1);
  const ramp = n - 25;
  const out: number[] = [];
  // numpy.linspace(1 / n, 1.0, num = n - 25)
  for (let i = 0; i < ramp; i++) out.push(ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1));
  for (let i = 0; i < 25; i++) out.push(1);
  return out;
}

interface NumericKernels {
  kind: 'numeric';
  low: number;
  high: number;
  step: number | undefined;
  mus: Float64Array;
  sigmas: Float64Array;
  /** log of each kernel's mass inside the (step-widened) bounds. */
  logZ: Float64Array;
  /** Per kernel: 1 / sigma and the log-density's constant -log(sigma sqrt(2 pi)) - logZ. */
  invSigmas: Float64Array;
  logConsts: Float64Array;
}

interface CategoricalKernels {
  kind: 'categorical';
  /** logProbs[k * nChoices + c]: log-probability of choice c under kernel k. */
  logProbs: Float64Array;
  probs: Float64Array;
  nChoices: number;
}

type Kernels = NumericKernels | CategoricalKernels;

/**
 * A Parzen estimator as in Optuna's TPE: a mixture with one kernel per observation plus a prior
 * kernel, truncated normals for numeric dimensions (discretised on the grid for stepped ones) and
 * smoothed one-hot distributions for categorical ones. With several dimensions it is a mixture of
 * products: each kernel is centred on one whole observation.
 */
export class ParzenEstimator {
  private readonly logWeights: Float64Array;
  private readonly cumWeights: Float64Array;
  private readonly kernels: Kernels[];
  readonly nKernels: number;

  /** `observations[d][i]`: observation i in dimension d (all dimensions have the same count). */
  constructor(observations: readonly (readonly number[])[], dims: readonly ParzenDimension[], params: ParzenParameters) {
    const nObs = observations[0]?.length ?? 0;
    let weights = nObs === 0 ? [1] : [...params.weights(nObs), params.priorWeight];
    if (weights.length !== (nObs === 0 ? 1 : nObs + 1)) throw new Error(`weights function returned ${weights.length - 1} weights for ${nObs} observations`);
    const total = weights.reduce((a, b) => a + b, 0);
    weights = weights.map((w) => w / total);
    this.nKernels = weights.length;
    this.logWeights = Float64Array.from(weights, (w) => log(w));
    this.cumWeights = new Float64Array(weights.length);
    let acc = 0;
    weights.forEach((w, i) => (this.cumWeights[i] = acc += w));
    this.kernels = dims.map((dim, d) => (dim.kind === 'categorical' ? categoricalKernels(observations[d] ?? [], dim.nChoices, params) : numericKernels(observations[d] ?? [], dim, dims.length, params)));
  }

  /** n draws, each an array with one value per dimension (on the grid for discrete ones). */
  sample(rng: TuningRng, n: number): number[][] {
    const out: number[][] = [];
    for (let s = 0; s < n; s++) {
      const u = rng.next();
      let k = 0;
      while (k < this.nKernels - 1 && this.cumWeights[k]! <= u) k++;
      out.push(this.kernels.map((kern) => sampleKernel(kern, k, rng)));
    }
    return out;
  }

  /** log density (log mass for discrete dimensions) of each point. */
  logPdf(points: readonly (readonly number[])[]): Float64Array {
    const out = new Float64Array(points.length);
    const terms = new Float64Array(this.nKernels);
    points.forEach((x, p) => {
      terms.set(this.logWeights);
      this.kernels.forEach((kern, d) => addKernelLogPdf(kern, x[d]!, terms));
      out[p] = logSumExp(terms);
    });
    return out;
  }
}

function numericKernels(obs: readonly number[], dim: Extract<ParzenDimension, { kind: 'numeric' }>, nDims: number, params: ParzenParameters): NumericKernels {
  const { low, high, step } = dim;
  const s0 = step ?? 0;
  const width = high - low + s0;
  const n = obs.length;
  let sigmas: number[];
  if (params.multivariate) {
    sigmas = new Array<number>(n).fill(0.2 * max(n, 1) ** (-1 / (nDims + 4)) * width);
  } else {
    // Each kernel's width is the larger gap to its neighbours among the sorted observations and
    // the prior's centre, with the bounds as outer neighbours (Optuna's univariate rule).
    const withPrior = [...obs, 0.5 * (low + high)];
    const order = withPrior.map((_, i) => i).sort((a, b) => withPrior[a]! - withPrior[b]! || a - b);
    const sorted = [low - s0 / 2, ...order.map((i) => withPrior[i]!), high + s0 / 2];
    const sortedSigmas = order.map((_, j) => max(sorted[j + 1]! - sorted[j]!, sorted[j + 2]! - sorted[j + 1]!));
    if (!params.considerEndpoints && sorted.length >= 4) {
      sortedSigmas[0] = sorted[2]! - sorted[1]!;
      sortedSigmas[sortedSigmas.length - 1] = sorted[sorted.length - 2]! - sorted[sorted.length - 3]!;
    }
    sigmas = new Array<number>(withPrior.length);
    order.forEach((orig, j) => (sigmas[orig] = sortedSigmas[j]!));
    sigmas = sigmas.slice(0, n);
  }
  const maxSigma = width;
  const minSigma = params.considerMagicClip ? width / min(100, 1 + n + 1) : 1e-12;
  const mus = [...obs, 0.5 * (low + high)];
  sigmas = [...sigmas.map((s) => min(max(s, minSigma), maxSigma)), width];
  const lo = low - s0 / 2;
  const hi = high + s0 / 2;
  const logZ = Float64Array.from(mus, (m, k) => logNormalMass((lo - m) / sigmas[k]!, (hi - m) / sigmas[k]!));
  return {
    kind: 'numeric',
    low,
    high,
    step,
    mus: Float64Array.from(mus),
    sigmas: Float64Array.from(sigmas),
    logZ,
    invSigmas: Float64Array.from(sigmas, (sg) => 1 / sg),
    logConsts: Float64Array.from(sigmas, (sg, k) => normalLogPdf(0) - log(sg) - logZ[k]!),
  };
}

function categoricalKernels(obs: readonly number[], nChoices: number, params: ParzenParameters): CategoricalKernels {
  const nKernels = obs.length === 0 ? 1 : obs.length + 1;
  const probs = new Float64Array(nKernels * nChoices);
  if (obs.length === 0) {
    probs.fill(1 / nChoices);
  } else {
    probs.fill(params.priorWeight / nKernels);
    obs.forEach((c, k) => (probs[k * nChoices + c] = probs[k * nChoices + c]! + 1));
    for (let k = 0; k < nKernels; k++) {
      let row = 0;
      for (let c = 0; c < nChoices; c++) row += probs[k * nChoices + c]!;
      for (let c = 0; c < nChoices; c++) probs[k * nChoices + c] = probs[k * nChoices + c]! / row;
    }
  }
  return { kind: 'categorical', probs, logProbs: Float64Array.from(probs, (p) => log(p)), nChoices };
}

function sampleKernel(kern: Kernels, k: number, rng: TuningRng): number {
  if (kern.kind === 'categorical') {
    const u = rng.next();
    let acc = 0;
    for (let c = 0; c < kern.nChoices; c++) {
      acc += kern.probs[k * kern.nChoices + c]!;
      if (u < acc) return c;
    }
    return kern.nChoices - 1;
  }
  const mu = kern.mus[k]!;
  const sigma = kern.sigmas[k]!;
  const s0 = kern.step ?? 0;
  const x = mu + sigma * truncatedStandardNormal((kern.low - s0 / 2 - mu) / sigma, (kern.high + s0 / 2 - mu) / sigma, rng.next());
  if (kern.step === undefined) return min(max(x, kern.low), kern.high);
  return min(max(kern.low + round((x - kern.low) / kern.step) * kern.step, kern.low), kern.high);
}

function addKernelLogPdf(kern: Kernels, x: number, terms: Float64Array): void {
  if (kern.kind === 'categorical') {
    for (let k = 0; k < terms.length; k++) terms[k] = terms[k]! + kern.logProbs[k * kern.nChoices + x]!;
    return;
  }
  const { mus, sigmas, logZ, step, invSigmas, logConsts } = kern;
  if (step === undefined) {
    for (let k = 0; k < terms.length; k++) {
      const z = (x - mus[k]!) * invSigmas[k]!;
      terms[k] = terms[k]! - 0.5 * z * z + logConsts[k]!;
    }
  } else {
    for (let k = 0; k < terms.length; k++) {
      const s = sigmas[k]!;
      terms[k] = terms[k]! + logNormalMass((x - step / 2 - mus[k]!) / s, (x + step / 2 - mus[k]!) / s) - logZ[k]!;
    }
  }
}
