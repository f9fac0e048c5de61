import type { Pruner } from '../pruner/pruner.js';
import type { Sampler } from '../sampler/sampler.js';
import type { ParamValues } from '../space/param-order.js';
import type { SearchSpace } from '../space/search-space.schema.js';
import type { Direction, Trial } from '../trial/trial.js';
import { completeTrial, nextTrialNumber, reportAndMaybePrune, reportIntermediate, startTrial } from './trial-lifecycle.js';

export interface SequentialStudyOptions {
  space: SearchSpace;
  sampler: Sampler;
  /**
   * Returns one value per direction (a bare number for a single objective). It may report
   * intermediate values through `report(step, value)`, which returns true when the pruner stopped
   * the trial: the objective should then return at once (its return value is ignored).
   */
  objective: (params: ParamValues, report: (step: number, value: number) => boolean) => number | readonly number[];
  nTrials: number;
  seed: number;
  directions?: readonly Direction[];
  pruner?: Pruner;
  /** Trials already run (e.g. read back after a restart); numbering continues after them. */
  trials?: readonly Trial[];
}

/**
 * Ask, evaluate, tell, one trial at a time: the loop the quality tests and the benchmark use. An
 * objective that throws stops the study with an error naming the trial and its params.
 */
export function runSequentialStudy(options: SequentialStudyOptions): Trial[] {
  const trials: Trial[] = [...(options.trials ?? [])];
  const directions = options.directions ?? ['minimize'];
  const first = nextTrialNumber(trials);
  for (let number = first; number < first + options.nTrials; number++) {
    const proposal = options.sampler.propose({ space: options.space, trials, trialNumber: number, seed: options.seed, directions });
    let trial = startTrial(number, proposal);
    const report = (step: number, value: number): boolean => {
      if (!options.pruner) {
        trial = reportIntermediate(trial, step, value);
        return false;
      }
      trial = reportAndMaybePrune(trial, step, value, options.pruner, trials);
      return trial.state === 'pruned';
    };
    let out: number | readonly number[];
    try {
      out = options.objective(proposal.params, report);
    } catch (error) {
      throw new Error(`trial ${number} failed with params ${JSON.stringify(proposal.params)}: ${(error as Error).message}`, { cause: error });
    }
    trials.push(trial.state === 'pruned' ? trial : completeTrial(trial, typeof out === 'number' ? [out] : [...(out as readonly number[])], directions));
  }
  return trials;
}

/** The best objective value among the complete trials (single objective), after each trial. */
export function bestValueCurve(trials: readonly Trial[], direction: Direction = 'minimize'): number[] {
  const curve: number[] = [];
  let best = direction === 'minimize' ? Infinity : -Infinity;
  for (const t of [...trials].sort((a, b) => a.number - b.number)) {
    const v = t.state === 'complete' ? t.values?.[0] : undefined;
    if (v !== undefined && (direction === 'minimize' ? v < best : v > best)) best = v;
    curve.push(best);
  }
  return curve;
}
