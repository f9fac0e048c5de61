import { branin, hartmann6, rosenbrock, type TestFunction } from '../../benchmark/test-functions.js';
import { bestValueCurve, runSequentialStudy } from '../../study/sequential-study.js';
import { createRandomSampler } from '../random-sampler.js';
import type { Sampler } from '../sampler.js';
import { createTpeSampler } from './tpe-sampler.js';

// Quality on standard functions (issue #7): over seeds 0..9 at 100 trials each, the median of
// TPE's best value must be below random search's median best, on every function.
const SEEDS = Array.from({ length: 10 }, (_, i) => i);
const N_TRIALS = 100;

function medianBest(fn: TestFunction, makeSampler: () => Sampler): number {
  const bests = SEEDS.map((seed) => bestValueCurve(runSequentialStudy({ space: fn.space, sampler: makeSampler(), objective: fn.evaluate, nTrials: N_TRIALS, seed })).at(-1)!);
  const sorted = bests.sort((a, b) => a - b);
  return (sorted[4]! + sorted[5]!) / 2;
}

describe('TPE against random search (median best over 10 seeds, 100 trials)', () => {
  it.each([branin, hartmann6, rosenbrock(10)])('beats random search on $name', (fn) => {
    const tpe = medianBest(fn, () => createTpeSampler());
    const random = medianBest(fn, () => createRandomSampler());
    expect(tpe).toBeLessThan(random);
    // Both stay above the known optimum: a check that the functions and bounds are the real ones.
    expect(tpe).toBeGreaterThanOrEqual(fn.optimum - 1e-9);
  });

  it('beats random search with the multivariate option on Hartmann-6', () => {
    expect(medianBest(hartmann6, () => createTpeSampler({ multivariate: true }))).toBeLessThan(medianBest(hartmann6, () => createRandomSampler()));
  });
});
