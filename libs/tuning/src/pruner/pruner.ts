import type { Trial } from '../trial/trial.js';

/**
 * A pruner decides, right after a running trial reported its value for `step`, whether to stop it.
 * The decision depends only on the trials passed in (plain data), so it can be made by whichever
 * process received the report, and made again identically after a restart.
 */
export interface Pruner {
  readonly name: string;
  shouldPrune(trial: Trial, allTrials: readonly Trial[], step: number): boolean;
}

/** The value the trial reported at `step`; throws naming the trial when it reported none. */
export function valueAtStep(trial: Trial, step: number): number {
  const iv = trial.intermediateValues.find((v) => v.step === step);
  if (!iv) throw new Error(`trial ${trial.number} reported no intermediate value at step ${step} (steps: ${trial.intermediateValues.map((v) => v.step).join(', ') || 'none'})`);
  return iv.value;
}
