import type { SweepObjective, SweepTrialState } from '@medfusion/contracts';
import type { EpochRecord, TrialEntity } from '@medfusion/persistence';
import { nonDominatedFronts, toMinimization, type Trial, type TrialState } from '@medfusion/tuning';

const TUNING_STATE: Record<SweepTrialState, TrialState | null> = {
  waiting: null,
  running: 'running',
  complete: 'complete',
  pruned: 'pruned',
  failed: 'failed',
  // Stopped with the sweep: for a sampler it is a trial that gave no result.
  stopped: 'failed',
};

/**
 * A stored trial as the tuning library sees it, or null for a waiting one (its parameters are not
 * final until it starts, so samplers must not read them).
 */
export function toTuningTrial(t: TrialEntity): Trial | null {
  const state = TUNING_STATE[t.state];
  if (!state) return null;
  return {
    number: t.number,
    state,
    params: t.params,
    ...(state === 'complete' && t.values ? { values: t.values } : {}),
    intermediateValues: Object.entries(t.intermediateValues).map(([step, value]) => ({ step: Number(step), value })),
    samplerAttrs: t.samplerAttrs,
  };
}

export function toTuningTrials(trials: readonly TrialEntity[]): Trial[] {
  return trials.flatMap((t) => toTuningTrial(t) ?? []);
}

/** The objective's value per epoch from a training job's history: { "<epoch>": value }. */
export function objectiveCurve(history: readonly EpochRecord[], metric: string): Record<string, number> {
  const curve: Record<string, number> = {};
  for (const record of history) {
    const v = record.metrics[metric];
    if (typeof v === 'number' && Number.isFinite(v)) curve[String(record.epoch)] = v;
  }
  return curve;
}

export function countTrialStates(trials: readonly TrialEntity[]): Partial<Record<SweepTrialState, number>> {
  const counts: Partial<Record<SweepTrialState, number>> = {};
  for (const t of trials) counts[t.state] = (counts[t.state] ?? 0) + 1;
  return counts;
}

/**
 * The best complete trial of a single-objective sweep (ties: the lower number); null for several
 * objectives, where the Pareto front is the answer.
 */
export function bestTrial<T extends Pick<TrialEntity, 'state' | 'values' | 'number'>>(trials: readonly T[], objectives: readonly SweepObjective[]): T | null {
  if (objectives.length !== 1) return null;
  const maximize = objectives[0]!.direction === 'maximize';
  let best: T | null = null;
  for (const t of trials) {
    const v = t.state === 'complete' ? t.values?.[0] : undefined;
    if (v === undefined) continue;
    const bv = best?.values?.[0];
    if (bv === undefined || (maximize ? v > bv : v < bv) || (v === bv && t.number < best!.number)) best = t;
  }
  return best;
}

/** The complete trials no other complete trial dominates, by number. */
export function paretoFront<T extends Pick<TrialEntity, 'state' | 'values' | 'number'>>(trials: readonly T[], objectives: readonly SweepObjective[]): T[] {
  const complete = trials.filter((t) => t.state === 'complete' && t.values && t.values.length === objectives.length);
  if (!complete.length) return [];
  const directions = objectives.map((o) => o.direction);
  const [front = []] = nonDominatedFronts(complete.map((t) => toMinimization(t.values!, directions)));
  return front.map((i) => complete[i]!).sort((a, b) => a.number - b.number);
}
