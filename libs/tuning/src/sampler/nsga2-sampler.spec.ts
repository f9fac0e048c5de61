import { zdt1 } from '../benchmark/test-functions.js';
import { crowdingDistances, dominates, hypervolume2d, nonDominatedFronts } from '../pareto/non-dominated-sort.js';
import { runSequentialStudy } from '../study/sequential-study.js';
import { createNsga2Sampler } from './nsga2-sampler.js';
import { createRandomSampler } from './random-sampler.js';
import type { Sampler } from './sampler.js';

describe('Pareto helpers', () => {
  const points = [
    [1, 5],
    [2, 3],
    [3, 4], // dominated by [2, 3]
    [4, 1],
    [5, 5], // dominated by all of the first front
  ];

  it('sorts into non-dominated fronts', () => {
    expect(dominates([2, 3], [3, 4])).toBe(true);
    expect(dominates([2, 3], [2, 3])).toBe(false);
    expect(nonDominatedFronts(points)).toEqual([[0, 1, 3], [2], [4]]);
  });

  it('gives boundary points infinite crowding and inner points the normalised gap sum', () => {
    const d = crowdingDistances(points, [0, 1, 3]);
    expect(d.get(0)).toBe(Infinity);
    expect(d.get(3)).toBe(Infinity);
    // f1 neighbours 1 and 4 over range 3, f2 neighbours 1 and 5 over range 4: 1 + 1.
    expect(d.get(1)).toBeCloseTo(2, 12);
  });

  it('computes the exact 2-D hypervolume', () => {
    // Against (6, 6): staircase [1,5], [2,3], [4,1] -> 5*1 + 4*2 + 2*2 = 17.
    expect(hypervolume2d(points, [6, 6])).toBe(17);
    expect(hypervolume2d([[7, 0]], [6, 6])).toBe(0);
  });
});

describe('NSGA-II on ZDT1', () => {
  // ZDT1 with 10 variables (the standard form uses 30; 10 keeps the test to seconds). Its front's
  // hypervolume against (1, 1) is exactly 2/3. Budget: population 40, 60 generations (2400 trials).
  const fn = zdt1(10);
  const hv = (sampler: Sampler, seed: number, reference: [number, number] = [1, 1]) => {
    const trials = runSequentialStudy({ space: fn.space, sampler, objective: fn.evaluate, nTrials: 2400, seed, directions: ['minimize', 'minimize'] });
    return { hv: hypervolume2d(trials.map((t) => t.values!), reference), trials };
  };

  it.each([0, 1])('reaches hypervolume >= 0.62 (of 2/3) and spans the front (seed %i)', (seed) => {
    const { hv: value, trials } = hv(createNsga2Sampler({ populationSize: 40 }), seed);
    expect(value).toBeGreaterThanOrEqual(0.62);
    expect(value).toBeLessThanOrEqual(2 / 3);
    const objectives = trials.map((t) => t.values!);
    const front = nonDominatedFronts(objectives)[0]!.map((i) => objectives[i]!);
    expect(Math.min(...front.map((p) => p[0]!))).toBeLessThan(0.05);
    expect(Math.max(...front.map((p) => p[0]!))).toBeGreaterThan(0.9);
    expect(trials.at(-1)!.samplerAttrs['nsgaGeneration']).toBe(59);
  });

  it('does better than random search with the same budget', () => {
    // Random points have g far above 1, so none dominates (1, 1); against (1, 10) they register.
    expect(hv(createRandomSampler(), 0).hv).toBe(0);
    expect(hv(createNsga2Sampler({ populationSize: 40 }), 0, [1, 10]).hv).toBeGreaterThan(hv(createRandomSampler(), 0, [1, 10]).hv + 1);
  });
});
