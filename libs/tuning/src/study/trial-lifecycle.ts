import type { Pruner } from '../pruner/pruner.js';
import type { Proposal } from '../sampler/sampler.js';
import type { Direction, Trial } from '../trial/trial.js';

/**
 * The transitions of a trial as pure functions returning new trials: the same rules whether a
 * test loop or the sweep scheduler (with Postgres rows) drives them. Each refuses an illegal step
 * with an error naming the trial.
 */
export function nextTrialNumber(trials: readonly Trial[]): number {
  return trials.reduce((n, t) => Math.max(n, t.number + 1), 0);
}

export function startTrial(number: number, proposal: Proposal): Trial {
  return { number, state: 'running', params: { ...proposal.params }, intermediateValues: [], samplerAttrs: { ...proposal.samplerAttrs } };
}

function assertRunning(trial: Trial, action: string): void {
  if (trial.state !== 'running') throw new Error(`trial ${trial.number} is ${trial.state}; only a running trial can ${action}`);
}

/** Records the value at `step`; a step may be reported once. */
export function reportIntermediate(trial: Trial, step: number, value: number): Trial {
  assertRunning(trial, 'report');
  if (!(Number.isInteger(step) && step >= 0)) throw new Error(`trial ${trial.number}: step must be an integer >= 0, got ${step}`);
  if (!Number.isFinite(value)) throw new Error(`trial ${trial.number}: the value at step ${step} is ${value}, not a finite number`);
  if (trial.intermediateValues.some((iv) => iv.step === step)) throw new Error(`trial ${trial.number} already reported step ${step}`);
  return { ...trial, intermediateValues: [...trial.intermediateValues, { step, value }] };
}

/** Reports a value and asks the pruner; a pruned trial comes back in state `pruned`. */
export function reportAndMaybePrune(trial: Trial, step: number, value: number, pruner: Pruner, others: readonly Trial[]): Trial {
  const reported = reportIntermediate(trial, step, value);
  const all = [...others.filter((t) => t.number !== trial.number), reported];
  return pruner.shouldPrune(reported, all, step) ? { ...reported, state: 'pruned' } : reported;
}

export function completeTrial(trial: Trial, values: readonly number[], directions: readonly Direction[]): Trial {
  assertRunning(trial, 'complete');
  if (values.length !== directions.length) throw new Error(`trial ${trial.number}: ${values.length} objective values for ${directions.length} directions`);
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`trial ${trial.number}: objective value ${bad} is ${values[bad]}, not a finite number`);
  return { ...trial, state: 'complete', values: [...values] };
}

export function failTrial(trial: Trial): Trial {
  assertRunning(trial, 'fail');
  return { ...trial, state: 'failed' };
}
