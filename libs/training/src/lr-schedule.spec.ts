import { trainingConfigSchema } from '@medfusion/contracts';
import { cosineRate, initialPlateauState, learningRateForUpdate, plateauStep, scheduledRate, stepRate, warmupFactor, type PlateauState } from './lr-schedule.js';

const config = (o: Record<string, unknown>) => trainingConfigSchema.parse({ epochs: 4, ...o });

describe('learning-rate schedules (hand-worked values)', () => {
  it('cosine runs from lr at epoch 1 towards minLearningRate', () => {
    // 0.05 (1 + cos(k pi / 4)) for k = 0..3
    expect([1, 2, 3, 4].map((e) => cosineRate(0.1, 0, e, 4))).toEqual([0.1, 0.05 * (1 + Math.SQRT1_2), 0.05, 0.05 * (1 - Math.SQRT1_2)].map((v) => expect.closeTo(v, 12)));
    expect(cosineRate(0.1, 0.01, 3, 4)).toBeCloseTo(0.01 + 0.09 * 0.5, 12);
    expect(scheduledRate(config({ lrSchedule: 'cosine', learningRate: 0.1 }), 2)).toBeCloseTo(0.0853553, 6);
  });

  it('step multiplies by gamma every stepSize epochs', () => {
    expect([1, 2, 3, 4, 5].map((e) => stepRate(1, 2, 0.5, e))).toEqual([1, 1, 0.5, 0.5, 0.25]);
    expect(scheduledRate(config({ lrSchedule: 'step', learningRate: 0.2, stepSize: 1, stepGamma: 0.1 }), 3)).toBeCloseTo(0.002, 12);
  });

  it('constant keeps the rate', () => {
    expect(scheduledRate(config({ learningRate: 0.3 }), 4)).toBe(0.3);
  });

  it('warm-up rises linearly per optimizer update and composes with the schedule', () => {
    expect([0, 1, 2, 3, 4, 9].map((u) => warmupFactor(u, 4))).toEqual([0.25, 0.5, 0.75, 1, 1, 1]);
    expect(warmupFactor(0, 0)).toBe(1);
    // Half an epoch of 4 updates: 2 warm-up updates.
    const c = config({ lrSchedule: 'step', learningRate: 1, stepSize: 1, stepGamma: 0.5, warmupEpochs: 0.5 });
    expect([learningRateForUpdate(c, 1, 0, 4), learningRateForUpdate(c, 1, 1, 4), learningRateForUpdate(c, 1, 2, 4), learningRateForUpdate(c, 2, 4, 4)]).toEqual([0.5, 1, 1, 0.5]);
    const cos = config({ lrSchedule: 'cosine', learningRate: 0.1, warmupEpochs: 1 });
    expect(learningRateForUpdate(cos, 1, 2, 4)).toBeCloseTo(0.075, 12);
    expect(learningRateForUpdate(cos, 2, 4, 4)).toBeCloseTo(0.05 * (1 + Math.SQRT1_2), 12);
  });

  it('reduce_on_plateau follows the Keras rule, with cooldown and floor', () => {
    const c = config({ lrSchedule: 'reduce_on_plateau', learningRate: 1, plateauFactor: 0.5, plateauPatience: 2, plateauCooldown: 1, minLearningRate: 0.2 });
    let s: PlateauState = initialPlateauState(c);
    const rates: number[] = [];
    for (const v of [1.0, 0.9, 0.95, 0.95, 0.97, 0.99, 0.99, 0.99, Number.NaN, 0.5]) {
      s = plateauStep(c, 'min', s, v);
      rates.push(s.learningRate);
    }
    // 0.95 twice: reduce (cooldown 1); 0.97: cooldown ends, first bad epoch; 0.99: reduce again;
    // 0.99: cooldown; 0.99: reduce, floored at 0.2; NaN: no change; 0.5: an improvement.
    expect(rates).toEqual([1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2]);
    expect(s).toEqual({ learningRate: 0.2, best: 0.5, badEpochs: 0, cooldownLeft: 0 });
    expect(scheduledRate(c, 7, s)).toBe(0.2);
  });

  it('reduce_on_plateau in max mode counts a lower value as no improvement', () => {
    const c = config({ lrSchedule: 'reduce_on_plateau', learningRate: 0.1, plateauFactor: 0.1, plateauPatience: 1 });
    let s = plateauStep(c, 'max', initialPlateauState(c), 0.8);
    s = plateauStep(c, 'max', s, 0.9);
    expect(s.learningRate).toBe(0.1);
    s = plateauStep(c, 'max', s, 0.85);
    expect(s.learningRate).toBeCloseTo(0.01, 12);
  });
});
