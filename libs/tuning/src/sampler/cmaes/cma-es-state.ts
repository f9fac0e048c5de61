import type { TuningRng } from '../../random/tuning-rng.js';
import { symmetricEigen } from './symmetric-eigen.js';

const { sqrt, log, exp, floor, max, min } = Math;

/**
 * CMA-ES (Hansen's tutorial form, positive recombination weights) on the unit box [0, 1]^n. The
 * state is immutable data: `tellCmaEs` returns the next generation's state, so the sampler can
 * rebuild it from stored trials by replaying generations.
 */
export interface CmaEsState {
  n: number;
  generation: number;
  mean: Float64Array;
  sigma: number;
  /** Covariance, row-major n x n, with its eigen-decomposition C = B diag(D^2) B^T. */
  cov: Float64Array;
  B: Float64Array;
  D: Float64Array;
  pSigma: Float64Array;
  pC: Float64Array;
}

export interface CmaEsConstants {
  lambda: number;
  mu: number;
  weights: Float64Array;
  muEff: number;
  cc: number;
  cSigma: number;
  c1: number;
  cMu: number;
  dSigma: number;
  chiN: number;
}

/** Population size from the standard formula, 4 + floor(3 ln n). */
export function defaultPopulationSize(n: number): number {
  return 4 + floor(3 * log(n));
}

export function cmaEsConstants(n: number, lambda = defaultPopulationSize(n)): CmaEsConstants {
  const mu = floor(lambda / 2);
  const raw = Array.from({ length: mu }, (_, i) => log((lambda + 1) / 2) - log(i + 1));
  const sum = raw.reduce((a, b) => a + b, 0);
  const weights = Float64Array.from(raw, (w) => w / sum);
  const muEff = 1 / weights.reduce((a, w) => a + w * w, 0);
  const cc = (4 + muEff / n) / (n + 4 + (2 * muEff) / n);
  const cSigma = (muEff + 2) / (n + muEff + 5);
  const c1 = 2 / ((n + 1.3) ** 2 + muEff);
  const cMu = min(1 - c1, (2 * (muEff - 2 + 1 / muEff)) / ((n + 2) ** 2 + muEff));
  const dSigma = 1 + 2 * max(0, sqrt((muEff - 1) / (n + 1)) - 1) + cSigma;
  const chiN = sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));
  return { lambda, mu, weights, muEff, cc, cSigma, c1, cMu, dSigma, chiN };
}

export function initialCmaEsState(n: number, mean: readonly number[], sigma: number): CmaEsState {
  const eye = new Float64Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  return { n, generation: 0, mean: Float64Array.from(mean), sigma, cov: eye.slice(), B: eye.slice(), D: new Float64Array(n).fill(1), pSigma: new Float64Array(n), pC: new Float64Array(n) };
}

/**
 * One candidate x = m + sigma B D z in [0, 1]^n: redrawn up to 100 times while outside the box,
 * then clipped (as the `cmaes` package Optuna uses does).
 */
export function askCmaEs(state: CmaEsState, rng: TuningRng): Float64Array {
  const { n, B, D, mean, sigma } = state;
  const x = new Float64Array(n);
  for (let attempt = 0; attempt < 100; attempt++) {
    const z = Float64Array.from({ length: n }, () => rng.normal());
    let inside = true;
    for (let i = 0; i < n; i++) {
      let y = 0;
      for (let j = 0; j < n; j++) y += B[i * n + j]! * D[j]! * z[j]!;
      x[i] = mean[i]! + sigma * y;
      if (x[i]! < 0 || x[i]! > 1) inside = false;
    }
    if (inside) return x;
  }
  for (let i = 0; i < n; i++) x[i] = min(1, max(0, x[i]!));
  return x;
}

/** The next state from one generation's evaluated candidates (`lambda` of them, lower is better). */
export function tellCmaEs(state: CmaEsState, constants: CmaEsConstants, solutions: readonly { x: ArrayLike<number>; value: number }[]): CmaEsState {
  const { n, sigma, mean, B, D } = state;
  const { mu, weights, muEff, cc, cSigma, c1, cMu, dSigma, chiN } = constants;
  const ranked = [...solutions].sort((a, b) => a.value - b.value).slice(0, mu);
  const ys = ranked.map((s) => Float64Array.from({ length: n }, (_, i) => (s.x[i]! - mean[i]!) / sigma));
  const yw = new Float64Array(n);
  ys.forEach((y, k) => {
    for (let i = 0; i < n; i++) yw[i] = yw[i]! + weights[k]! * y[i]!;
  });
  const newMean = Float64Array.from(mean, (m, i) => m + sigma * yw[i]!);

  // C^{-1/2} y_w = B D^{-1} B^T y_w
  const bty = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += B[i * n + j]! * yw[i]!;
    bty[j] = s / D[j]!;
  }
  const cInvHalfY = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += B[i * n + j]! * bty[j]!;
    cInvHalfY[i] = s;
  }
  const csFactor = sqrt(cSigma * (2 - cSigma) * muEff);
  const pSigma = Float64Array.from(state.pSigma, (p, i) => (1 - cSigma) * p + csFactor * cInvHalfY[i]!);
  const pSigmaNorm = sqrt(pSigma.reduce((a, p) => a + p * p, 0));
  const hSigma = pSigmaNorm / sqrt(1 - (1 - cSigma) ** (2 * (state.generation + 1))) < (1.4 + 2 / (n + 1)) * chiN ? 1 : 0;
  const ccFactor = sqrt(cc * (2 - cc) * muEff);
  const pC = Float64Array.from(state.pC, (p, i) => (1 - cc) * p + hSigma * ccFactor * yw[i]!);

  const cov = new Float64Array(n * n);
  const decay = 1 - c1 - cMu + (1 - hSigma) * c1 * cc * (2 - cc);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let rankMu = 0;
      ys.forEach((y, k) => (rankMu += weights[k]! * y[i]! * y[j]!));
      cov[i * n + j] = decay * state.cov[i * n + j]! + c1 * pC[i]! * pC[j]! + cMu * rankMu;
    }
  }
  // Keep C exactly symmetric against rounding, then refresh its decomposition.
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) cov[i * n + j] = cov[j * n + i] = 0.5 * (cov[i * n + j]! + cov[j * n + i]!);
  const eig = symmetricEigen(cov, n);
  const newSigma = sigma * exp(min(1, (cSigma / dSigma) * (pSigmaNorm / chiN - 1)));
  return {
    n,
    generation: state.generation + 1,
    mean: newMean,
    sigma: newSigma,
    cov,
    B: eig.vectors,
    D: Float64Array.from(eig.values, (v) => sqrt(max(v, 1e-20))),
    pSigma,
    pC,
  };
}
