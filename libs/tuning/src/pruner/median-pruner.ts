import type { Direction, Trial } from '../trial/trial.js';
import { valueAtStep, type Pruner } from './pruner.js';

export interface PercentilePrunerOptions {
  direction?: Direction;
  /** No pruning until this many trials are complete (Optuna: 5). */
  nStartupTrials?: number;
  /** No pruning before this step (Optuna: 0). */
  nWarmupSteps?: number;
  /** Check only once per interval of steps after the warm-up (Optuna: 1). */
  intervalSteps?: number;
  /** Completed trials that must have reported at the step for a comparison (Optuna: 1). */
  nMinTrials?: number;
}

/**
 * Optuna's PercentilePruner: prune when the trial's best value so far is worse than the given
 * percentile of the complete trials' values at the same step.
 */
export function createPercentilePruner(percentile: number, options: PercentilePrunerOptions = {}): Pruner {
  if (!(percentile >= 0 && percentile <= 100)) throw new Error(`percentile must be in [0, 100], got ${percentile}`);
  const direction = options.direction ?? 'minimize';
  const nStartup = options.nStartupTrials ?? 5;
  const nWarmup = options.nWarmupSteps ?? 0;
  const interval = options.intervalSteps ?? 1;
  const nMin = options.nMinTrials ?? 1;
  if (!(Number.isInteger(interval) && interval >= 1)) throw new Error(`intervalSteps must be an integer >= 1, got ${interval}`);
  return {
    name: percentile === 50 ? 'median' : `percentile-${percentile}`,
    shouldPrune(trial: Trial, allTrials: readonly Trial[], step: number): boolean {
      const complete = allTrials.filter((t) => t.state === 'complete' && t.number !== trial.number);
      if (complete.length === 0 || complete.length < nStartup) return false;
      if (step < nWarmup) return false;
      valueAtStep(trial, step);
      const earlier = trial.intermediateValues.filter((iv) => iv.step < step);
      if (!isFirstInInterval(step, earlier.map((iv) => iv.step), nWarmup, interval)) return false;
      const own = trial.intermediateValues.filter((iv) => iv.step <= step).map((iv) => iv.value);
      const best = direction === 'maximize' ? Math.max(...own) : Math.min(...own);
      const others = complete.flatMap((t) => t.intermediateValues.filter((iv) => iv.step === step).map((iv) => iv.value));
      if (others.length < nMin) return false;
      const threshold = linearPercentile(others, direction === 'maximize' ? 100 - percentile : percentile);
      return direction === 'maximize' ? best < threshold : best > threshold;
    },
  };
}

/** Median pruner: the 50th percentile (Optuna's MedianPruner). */
export function createMedianPruner(options: PercentilePrunerOptions = {}): Pruner {
  return createPercentilePruner(50, options);
}

/**
 * Whether `step` is the first report in its pruning interval: the steps before it must all lie
 * before the interval's start (warm-up + k * interval), as in Optuna.
 */
function isFirstInInterval(step: number, earlierSteps: readonly number[], nWarmup: number, interval: number): boolean {
  const nearestLower = Math.floor((step - nWarmup) / interval) * interval + nWarmup;
  const secondLast = earlierSteps.reduce((m, s) => (s > m ? s : m), -1);
  return secondLast < nearestLower;
}

/** numpy.percentile with linear interpolation. */
export function linearPercentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const pos = ((sorted.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
