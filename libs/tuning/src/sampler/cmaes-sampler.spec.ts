import { sphere } from '../benchmark/test-functions.js';
import { parseSearchSpace } from '../space/search-space.schema.js';
import { bestValueCurve, runSequentialStudy } from '../study/sequential-study.js';
import { cmaEsConstants, defaultPopulationSize } from './cmaes/cma-es-state.js';
import { symmetricEigen } from './cmaes/symmetric-eigen.js';
import { createCmaEsSampler } from './cmaes-sampler.js';

describe('CMA-ES sampler', () => {
  // Issue #7: CMA-ES converges on the sphere. 5-D sphere on [-5, 5]^5 (start: the centre of the
  // normalised box, sigma 1/6 of the range), population 4 + floor(3 ln 5) = 8.
  it.each([0, 1, 2])('reaches f < 1e-6 on the 5-D sphere within 600 evaluations (seed %i)', (seed) => {
    const fn = sphere(5);
    const trials = runSequentialStudy({ space: fn.space, sampler: createCmaEsSampler(), objective: fn.evaluate, nTrials: 600, seed });
    expect(bestValueCurve(trials).at(-1)!).toBeLessThan(1e-6);
    expect(trials.at(-1)!.samplerAttrs['cmaGeneration']).toBe(74);
  });

  it('maximises when asked (the negated sphere, 2-D)', () => {
    const fn = sphere(2);
    const trials = runSequentialStudy({ space: fn.space, sampler: createCmaEsSampler(), objective: (p) => -fn.evaluate(p), nTrials: 300, seed: 0, directions: ['maximize'] });
    expect(bestValueCurve(trials, 'maximize').at(-1)!).toBeGreaterThan(-1e-6);
  });

  it('draws categorical and conditional parameters at random and keeps ints on their grid', () => {
    const space = parseSearchSpace({
      kind: { type: 'categorical', choices: ['a', 'b'] },
      n: { type: 'int', low: 1, high: 64, log: true },
      x: { type: 'float', low: -1, high: 1 },
      y: { type: 'float', low: 0, high: 1, condition: { parent: 'kind', values: ['b'] } },
    });
    const trials = runSequentialStudy({ space, sampler: createCmaEsSampler(), objective: (p) => ((p['n'] as number) - 8) ** 2 + (p['x'] as number) ** 2, nTrials: 120, seed: 2 });
    expect(new Set(trials.map((t) => t.params['kind']))).toEqual(new Set(['a', 'b']));
    expect(trials.every((t) => Number.isInteger(t.params['n']) && ('y' in t.params) === (t.params['kind'] === 'b'))).toBe(true);
    expect(bestValueCurve(trials).at(-1)!).toBeLessThan(0.01);
  });

  it('uses the standard population and weights', () => {
    expect(defaultPopulationSize(5)).toBe(8);
    expect(defaultPopulationSize(10)).toBe(10);
    const c = cmaEsConstants(5);
    expect(c.mu).toBe(4);
    expect(c.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(c.muEff).toBeCloseTo(1 / c.weights.reduce((a, w) => a + w * w, 0), 12);
  });

  it('decomposes a symmetric matrix exactly', () => {
    const m = Float64Array.from([4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 2]);
    const { values, vectors } = symmetricEigen(m, 3);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += vectors[i * 3 + k]! * values[k]! * vectors[j * 3 + k]!;
        expect(s).toBeCloseTo(m[i * 3 + j]!, 12);
      }
    }
  });
});
