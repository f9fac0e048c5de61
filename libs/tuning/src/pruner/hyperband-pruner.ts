import { hashSeed } from '../random/tuning-rng.js';
import type { Direction } from '../trial/trial.js';
import type { Pruner } from './pruner.js';
import { createSuccessiveHalvingPruner } from './successive-halving-pruner.js';

export interface HyperbandPrunerOptions {
  direction?: Direction;
  /** Smallest resource (steps) a trial gets (Optuna: 1). */
  minResource?: number;
  /** Largest resource, e.g. the epoch budget (Optuna estimates it; required here). */
  maxResource: number;
  /** Optuna: 3. */
  reductionFactor?: number;
  bootstrapCount?: number;
  /** Seeds the assignment of trial numbers to brackets. */
  seed?: number;
}

export interface HyperbandPruner extends Pruner {
  readonly nBrackets: number;
  /** The bracket a trial number belongs to (fixed by seed and number). */
  bracketOf(trialNumber: number): number;
}

/**
 * Hyperband as Optuna's HyperbandPruner: brackets of successive halving with min early-stopping
 * rates 0 .. nBrackets - 1; trials compete only within their bracket. A trial's bracket comes from a
 * hash of (seed, trial number), split in proportion to Optuna's per-bracket budgets
 * ceil(nBrackets * eta^s / (s + 1)) with s = nBrackets - 1 - bracket.
 */
export function createHyperbandPruner(options: HyperbandPrunerOptions): HyperbandPruner {
  const minResource = options.minResource ?? 1;
  const eta = options.reductionFactor ?? 3;
  if (!(options.maxResource >= minResource)) throw new Error(`maxResource (${options.maxResource}) must be >= minResource (${minResource})`);
  const nBrackets = Math.floor(Math.log(options.maxResource / minResource) / Math.log(eta) + 1e-9) + 1;
  const budgets = Array.from({ length: nBrackets }, (_, i) => {
    const s = nBrackets - 1 - i;
    return Math.ceil((nBrackets * eta ** s) / (s + 1));
  });
  const total = budgets.reduce((a, b) => a + b, 0);
  const seed = options.seed ?? 0;
  const bracketOf = (trialNumber: number): number => {
    let n = hashSeed(seed, trialNumber) % total;
    for (let b = 0; b < nBrackets; b++) {
      n -= budgets[b]!;
      if (n < 0) return b;
    }
    return nBrackets - 1;
  };
  const pruners = budgets.map((_, b) =>
    createSuccessiveHalvingPruner({
      direction: options.direction ?? 'minimize',
      minResource,
      reductionFactor: eta,
      minEarlyStoppingRate: b,
      bootstrapCount: options.bootstrapCount ?? 0,
      competitors: (t) => bracketOf(t.number) === b,
    }),
  );
  return {
    name: 'hyperband',
    nBrackets,
    bracketOf,
    shouldPrune(trial, allTrials, step) {
      return pruners[bracketOf(trial.number)]!.shouldPrune(trial, allTrials, step);
    },
  };
}
