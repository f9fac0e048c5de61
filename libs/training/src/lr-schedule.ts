import type { TrainingConfig } from '@medfusion/contracts';

/**
 * Learning-rate schedules as pure functions of the configuration and the position in the run, so a
 * resumed run (and every rank of a distributed one) computes the same rate. Epochs are 1-based.
 */
export type ScheduleConfig = Pick<
  TrainingConfig,
  'learningRate' | 'epochs' | 'lrSchedule' | 'stepSize' | 'stepGamma' | 'plateauFactor' | 'plateauPatience' | 'plateauCooldown' | 'minLearningRate' | 'warmupEpochs'
>;

/** cosine: minLr + (lr - minLr)(1 + cos(pi (epoch - 1) / epochs)) / 2, from lr at epoch 1 towards minLr. */
export function cosineRate(lr: number, minLr: number, epoch: number, epochs: number): number {
  return minLr + ((lr - minLr) * (1 + Math.cos((Math.PI * (epoch - 1)) / epochs))) / 2;
}

/** step: lr x gamma^floor((epoch - 1) / stepSize). */
export function stepRate(lr: number, stepSize: number, gamma: number, epoch: number): number {
  return lr * gamma ** Math.floor((epoch - 1) / stepSize);
}

/**
 * The rate of an epoch for the schedules that depend on the epoch alone. `reduce_on_plateau`
 * depends on validation results instead: its current rate lives in PlateauState.
 */
export function scheduledRate(c: ScheduleConfig, epoch: number, plateau?: PlateauState): number {
  switch (c.lrSchedule) {
    case 'cosine':
      return cosineRate(c.learningRate, c.minLearningRate, epoch, c.epochs);
    case 'step':
      return stepRate(c.learningRate, c.stepSize, c.stepGamma, epoch);
    case 'reduce_on_plateau':
      return plateau?.learningRate ?? c.learningRate;
    case 'constant':
      return c.learningRate;
  }
}

/**
 * Linear warm-up factor of optimizer update `update` (0-based) when warm-up spans `warmupUpdates`
 * updates: (update + 1) / warmupUpdates, reaching 1 at the last warm-up update and staying there.
 * Counting updates rather than epochs makes the rate rise smoothly within the first epochs.
 */
export function warmupFactor(update: number, warmupUpdates: number): number {
  if (warmupUpdates <= 0) return 1;
  return Math.min(1, (update + 1) / warmupUpdates);
}

/** The rate of one optimizer update: the epoch's scheduled rate times the warm-up factor. */
export function learningRateForUpdate(c: ScheduleConfig, epoch: number, update: number, updatesPerEpoch: number, plateau?: PlateauState): number {
  return scheduledRate(c, epoch, plateau) * warmupFactor(update, Math.round(c.warmupEpochs * updatesPerEpoch));
}

/** What `reduce_on_plateau` remembers between epochs; part of the checkpoint so a resume is exact. */
export interface PlateauState {
  learningRate: number;
  /** Best monitored value so far (null before the first finite one). */
  best: number | null;
  /** Epochs in a row without improvement since the best or the last reduction. */
  badEpochs: number;
  /** Epochs left in which no reduction may happen. */
  cooldownLeft: number;
}

export function initialPlateauState(c: Pick<ScheduleConfig, 'learningRate'>): PlateauState {
  return { learningRate: c.learningRate, best: null, badEpochs: 0, cooldownLeft: 0 };
}

/**
 * One epoch of reduce-on-plateau, Keras's rule: a cooldown epoch counts down and resets the count;
 * an improvement resets the count; otherwise, out of cooldown, the count grows and at
 * `plateauPatience` the rate is multiplied by `plateauFactor` (not below `minLearningRate`) and a
 * cooldown of `plateauCooldown` epochs starts. A non-finite value (no validation split, or the AUC
 * of a one-class split) leaves the state unchanged.
 */
export function plateauStep(
  c: Pick<ScheduleConfig, 'plateauFactor' | 'plateauPatience' | 'plateauCooldown' | 'minLearningRate'>,
  mode: 'min' | 'max',
  s: PlateauState,
  value: number,
): PlateauState {
  if (!Number.isFinite(value)) return s;
  const next = { ...s };
  if (next.cooldownLeft > 0) {
    next.cooldownLeft--;
    next.badEpochs = 0;
  }
  if (next.best === null || (mode === 'min' ? value < next.best : value > next.best)) {
    next.best = value;
    next.badEpochs = 0;
  } else if (next.cooldownLeft === 0) {
    next.badEpochs++;
    if (next.badEpochs >= c.plateauPatience) {
      next.learningRate = Math.max(next.learningRate * c.plateauFactor, c.minLearningRate);
      next.cooldownLeft = c.plateauCooldown;
      next.badEpochs = 0;
    }
  }
  return next;
}
