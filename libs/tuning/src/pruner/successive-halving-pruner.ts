import type { Direction, Trial } from '../trial/trial.js';
import { valueAtStep, type Pruner } from './pruner.js';

export interface SuccessiveHalvingPrunerOptions {
  direction?: Direction;
  /** Steps a trial runs before its first rung (Optuna's min_resource; required here, see docs). */
  minResource: number;
  /** Each rung keeps the best 1 / reductionFactor (Optuna: 4). */
  reductionFactor?: number;
  /** Rung r sits at minResource * reductionFactor^(minEarlyStoppingRate + r) (Optuna: 0). */
  minEarlyStoppingRate?: number;
  /** Trials that must have reached a rung before anything is promoted from it (Optuna: 0). */
  bootstrapCount?: number;
  /** Only these trials compete (Hyperband passes the trials of one bracket). */
  competitors?: (t: Trial) => boolean;
}

/**
 * Asynchronous successive halving (ASHA), as Optuna's SuccessiveHalvingPruner. A trial's value at
 * a rung is the value it reported at its first step at or past the rung's step; it goes on when
 * that value is within the top 1 / reductionFactor of all values recorded at the rung so far.
 *
 * Optuna stores rung values as trial attributes while pruning; here they are read back from the
 * intermediate values, which holds when the pruner is asked at every report (a pruned trial stops
 * reporting, so it never records a rung it did not reach).
 */
export function createSuccessiveHalvingPruner(options: SuccessiveHalvingPrunerOptions): Pruner {
  const eta = options.reductionFactor ?? 4;
  const rate = options.minEarlyStoppingRate ?? 0;
  const bootstrap = options.bootstrapCount ?? 0;
  const direction = options.direction ?? 'minimize';
  if (!(options.minResource > 0)) throw new Error(`minResource must be > 0, got ${options.minResource}`);
  if (!(Number.isInteger(eta) && eta >= 2)) throw new Error(`reductionFactor must be an integer >= 2, got ${eta}`);
  const rungStep = (rung: number) => options.minResource * eta ** (rate + rung);
  return {
    name: 'successive-halving',
    shouldPrune(trial: Trial, allTrials: readonly Trial[], step: number): boolean {
      const value = valueAtStep(trial, step);
      const previous = trial.intermediateValues.reduce((m, iv) => (iv.step < step && iv.step > m ? iv.step : m), -1);
      // Rungs passed at earlier reports were decided then.
      let rung = 0;
      while (previous >= rungStep(rung)) rung++;
      while (step >= rungStep(rung)) {
        if (Number.isNaN(value)) return true;
        const competing = allTrials
          .filter((t) => t.number !== trial.number && (options.competitors?.(t) ?? true))
          .map((t) => rungValue(t, rungStep(rung)))
          .filter((v): v is number => v !== undefined);
        competing.push(value);
        if (competing.length <= bootstrap) return true;
        if (!isPromotable(value, competing, eta, direction)) return true;
        rung++;
      }
      return false;
    },
  };
}

/** A trial's value at a rung: the one reported at its first step at or past the rung's step. */
function rungValue(trial: Trial, rungStep: number): number | undefined {
  let best: { step: number; value: number } | undefined;
  for (const iv of trial.intermediateValues) if (iv.step >= rungStep && (!best || iv.step < best.step)) best = iv;
  return best?.value;
}

/** Optuna's rule, including its choice to promote the best of the first reductionFactor - 1 trials. */
function isPromotable(value: number, competing: number[], eta: number, direction: Direction): boolean {
  let idx = Math.floor(competing.length / eta) - 1;
  if (idx === -1) idx = 0;
  competing.sort((a, b) => a - b);
  return direction === 'maximize' ? value >= competing[competing.length - 1 - idx]! : value <= competing[idx]!;
}
