import type { Sampler } from '../sampler/sampler.js';
import type { ParamValues } from '../space/param-order.js';
import type { SearchSpace } from '../space/search-space.schema.js';
import type { Direction, Trial } from '../trial/trial.js';

export interface SequentialStudyOptions {
  space: SearchSpace;
  sampler: Sampler;
  /** Returns one value per direction (a bare number for a single objective). */
  objective: (params: ParamValues) => number | readonly number[];
  nTrials: number;
  seed: number;
  directions?: readonly Direction[];
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
  const first = trials.reduce((n, t) => Math.max(n, t.number + 1), 0);
  for (let number = first; number < first + options.nTrials; number++) {
    const proposal = options.sampler.propose({ space: options.space, trials, trialNumber: number, seed: options.seed, directions });
    let values: number[];
    try {
      const out = options.objective(proposal.params);
      values = typeof out === 'number' ? [out] : [...out];
    } catch (error) {
      throw new Error(`trial ${number} failed with params ${JSON.stringify(proposal.params)}: ${(error as Error).message}`, { cause: error });
    }
    if (values.length !== directions.length) throw new Error(`trial ${number}: the objective returned ${values.length} values for ${directions.length} directions`);
    trials.push({ number, state: 'complete', params: proposal.params, values, intermediateValues: [], samplerAttrs: proposal.samplerAttrs });
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
