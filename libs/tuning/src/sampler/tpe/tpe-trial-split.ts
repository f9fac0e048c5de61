import { lastStep, type Direction, type Trial } from '../../trial/trial.js';

export interface TrialSplit {
  /** The good trials (the `l(x)` side), in trial-number order. */
  below: Trial[];
  /** The rest (the `g(x)` side), running trials included under the constant-liar strategy. */
  above: Trial[];
}

/**
 * Optuna's split: the `nBelow` best complete trials are good; if there are fewer complete trials
 * than that, pruned ones fill up (those that got further first, then the better last value).
 * Running trials, when given, count as the worst: they all go to the bad side.
 */
export function splitTrials(finished: readonly Trial[], running: readonly Trial[], nBelow: number, direction: Direction): TrialSplit {
  const sign = direction === 'maximize' ? -1 : 1;
  const complete = finished.filter((t) => t.state === 'complete');
  const pruned = finished.filter((t) => t.state === 'pruned');
  const byValue = [...complete].sort((a, b) => sign * (a.values![0]! - b.values![0]!) || a.number - b.number);
  const nComplete = min(nBelow, byValue.length);
  const byProgress = [...pruned].sort((a, b) => comparePruned(a, b, sign));
  const nPruned = min(max(0, nBelow - nComplete), byProgress.length);
  const below = [...byValue.slice(0, nComplete), ...byProgress.slice(0, nPruned)];
  const above = [...byValue.slice(nComplete), ...byProgress.slice(nPruned), ...running];
  const byNumber = (a: Trial, b: Trial) => a.number - b.number;
  return { below: below.sort(byNumber), above: above.sort(byNumber) };
}

const { min, max } = Math;

function prunedScore(t: Trial, sign: number): [number, number] {
  const step = lastStep(t);
  if (step === undefined) return [1, 0];
  const value = t.intermediateValues.find((iv) => iv.step === step)!.value;
  return [-step, Number.isNaN(value) ? Infinity : sign * value];
}

function comparePruned(a: Trial, b: Trial, sign: number): number {
  const [sa, va] = prunedScore(a, sign);
  const [sb, vb] = prunedScore(b, sign);
  return sa - sb || va - vb || a.number - b.number;
}
