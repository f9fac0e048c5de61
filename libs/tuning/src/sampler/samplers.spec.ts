import { branin, zdt1 } from '../benchmark/test-functions.js';
import { isParamActive } from '../space/param-order.js';
import { isInDomain, parseSearchSpace, type SearchSpace } from '../space/search-space.schema.js';
import { runSequentialStudy } from '../study/sequential-study.js';
import type { Direction, Trial } from '../trial/trial.js';
import { createCmaEsSampler } from './cmaes-sampler.js';
import { createGridSampler, enumerateGrid, GridError } from './grid-sampler.js';
import { createNsga2Sampler } from './nsga2-sampler.js';
import { createRandomSampler } from './random-sampler.js';
import type { Sampler } from './sampler.js';
import { createTpeSampler } from './tpe/tpe-sampler.js';

interface Case {
  name: string;
  make: () => Sampler;
  space: SearchSpace;
  objective: (p: Record<string, unknown>) => number | number[];
  directions: Direction[];
}

const twoObjectives = zdt1(3);
const CASES: Case[] = [
  { name: 'random', make: createRandomSampler, space: branin.space, objective: (p) => branin.evaluate(p as never), directions: ['minimize'] },
  { name: 'tpe', make: () => createTpeSampler(), space: branin.space, objective: (p) => branin.evaluate(p as never), directions: ['minimize'] },
  { name: 'tpe multivariate', make: () => createTpeSampler({ multivariate: true }), space: branin.space, objective: (p) => branin.evaluate(p as never), directions: ['minimize'] },
  { name: 'cmaes', make: () => createCmaEsSampler(), space: branin.space, objective: (p) => branin.evaluate(p as never), directions: ['minimize'] },
  {
    name: 'nsga2',
    make: () => createNsga2Sampler({ populationSize: 8 }),
    space: twoObjectives.space,
    objective: (p) => twoObjectives.evaluate(p as never),
    directions: ['minimize', 'minimize'],
  },
];

const run = (c: Case, seed: number, nTrials = 30, trials: Trial[] = []) =>
  runSequentialStudy({ space: c.space, sampler: c.make(), objective: c.objective as never, nTrials, seed, directions: c.directions, trials });

describe.each(CASES)('$name sampler', (c) => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = run(c, 11);
    expect(run(c, 11)).toEqual(a);
    expect(run(c, 12).map((t) => t.params)).not.toEqual(a.map((t) => t.params));
  });

  it('proposes from the stored trials alone: a fresh sampler on JSON trials continues identically', () => {
    const continuing = run(c, 5, 40);
    const first = continuing.slice(0, 25);
    const restored = run(c, 5, 15, JSON.parse(JSON.stringify(first)) as Trial[]);
    expect(restored).toEqual(continuing);
  });
});

describe('samplers on a conditional space', () => {
  const space = parseSearchSpace({
    optimizer: { type: 'categorical', choices: ['adam', 'sgd', 'rmsprop'] },
    lr: { type: 'float', low: 1e-5, high: 0.1, log: true },
    momentum: { type: 'float', low: 0.5, high: 0.99, condition: { parent: 'optimizer', values: ['sgd', 'rmsprop'] } },
    layers: { type: 'int', low: 1, high: 4 },
    width: { type: 'int', low: 16, high: 64, step: 16, condition: { parent: 'layers', values: [3, 4] } },
    units: { type: 'int', low: 2, high: 256, log: true },
    dropout: { type: 'float', low: 0, high: 0.5, step: 0.1 },
  });
  // A loss that depends on active parameters only, so every sampler has something to learn.
  const loss = (p: Record<string, unknown>) =>
    Math.abs(Math.log10(p['lr'] as number) + 3) + (p['optimizer'] === 'sgd' ? 1 - (p['momentum'] as number) : 0.2) + Math.abs((p['layers'] as number) - 3) + (p['dropout'] as number);

  it.each([
    ['random', createRandomSampler()],
    ['tpe', createTpeSampler({ nStartupTrials: 5 })],
    ['tpe multivariate', createTpeSampler({ nStartupTrials: 5, multivariate: true })],
    ['cmaes', createCmaEsSampler()],
    ['grid', createGridSampler({ values: { lr: [1e-4, 1e-3, 1e-2], momentum: [0.9, 0.95], units: [2, 16, 128] } })],
    ['nsga2', createNsga2Sampler({ populationSize: 6 })],
  ])('%s sets exactly the active parameters, each within its domain', (_name, sampler) => {
    const trials = runSequentialStudy({ space, sampler, objective: loss as never, nTrials: 40, seed: 3 });
    for (const t of trials) {
      for (const [name, spec] of Object.entries(space)) {
        expect([name, name in t.params]).toEqual([name, isParamActive(spec, t.params)]);
        if (name in t.params) expect([name, t.params[name], isInDomain(spec, t.params[name])]).toEqual([name, t.params[name], true]);
      }
    }
  });
});

describe('TPE', () => {
  const space = branin.space;
  const complete = runSequentialStudy({ space, sampler: createRandomSampler(), objective: branin.evaluate, nTrials: 12, seed: 1 });
  const running: Trial = { number: 12, state: 'running', params: { x0: 3, x1: 2 }, intermediateValues: [], samplerAttrs: {} };
  const propose = (sampler: Sampler, trials: Trial[]) => sampler.propose({ space, trials, trialNumber: 13, seed: 1 }).params;

  it('samples at random until n_startup_trials are finished', () => {
    const few = complete.slice(0, 9);
    expect(propose(createTpeSampler(), few)).not.toEqual(propose(createRandomSampler(), few));
    // Same stream, same draws: below the startup count TPE's proposal is a uniform draw over the space.
    const p = propose(createTpeSampler(), few);
    expect(p['x0']).toBeGreaterThanOrEqual(-5);
    expect(p['x1']).toBeLessThanOrEqual(15);
  });

  it('lets running trials change the proposal only under the constant-liar strategy', () => {
    expect(propose(createTpeSampler(), [...complete, running])).toEqual(propose(createTpeSampler(), complete));
    expect(propose(createTpeSampler({ constantLiar: true }), [...complete, running])).not.toEqual(propose(createTpeSampler({ constantLiar: true }), complete));
  });

  it('refuses several objectives and leaves out trials whose values the space no longer allows', () => {
    expect(() => createTpeSampler().propose({ space, trials: complete, trialNumber: 13, seed: 1, directions: ['minimize', 'maximize'] })).toThrow(
      'the TPE sampler optimises one objective, the study has 2: use the NSGA-II sampler',
    );
    const stale = { ...complete[0]!, number: 40, params: { x0: 99 }, values: [-100] };
    expect(propose(createTpeSampler(), [...complete, stale])).toEqual(propose(createTpeSampler(), [...complete, { ...stale, params: {} }]));
  });

  it('reads a maximisation direction: the flipped objective gives the same proposal', () => {
    const flipped = complete.map((t) => ({ ...t, values: [-t.values![0]!] }));
    const maximize = createTpeSampler().propose({ space, trials: flipped, trialNumber: 13, seed: 1, directions: ['maximize'] }).params;
    expect(maximize).toEqual(propose(createTpeSampler(), complete));
  });
});

describe('grid sampler', () => {
  const space = parseSearchSpace({
    a: { type: 'categorical', choices: ['x', 'y'] },
    b: { type: 'int', low: 0, high: 2 },
    c: { type: 'float', low: 0, high: 1, step: 0.5, condition: { parent: 'a', values: ['y'] } },
  });

  it('enumerates conditional parameters only where active', () => {
    // a = x: 3 values of b; a = y: 3 values of b times 3 of c.
    expect(enumerateGrid(space)).toHaveLength(12);
  });

  it('visits every point once, then says the grid is exhausted', () => {
    const sampler = createGridSampler();
    const trials = runSequentialStudy({ space, sampler, objective: () => 0, nTrials: 12, seed: 4 });
    expect(new Set(trials.map((t) => JSON.stringify(t.params))).size).toBe(12);
    expect(() => sampler.propose({ space, trials, trialNumber: 12, seed: 4 })).toThrow('the grid is exhausted: all 12 points have been proposed');
  });

  it('counts running trials as taken', () => {
    const sampler = createGridSampler();
    const first = sampler.propose({ space, trials: [], trialNumber: 0, seed: 4 });
    const running: Trial = { number: 0, state: 'running', params: first.params, intermediateValues: [], samplerAttrs: first.samplerAttrs };
    expect(sampler.propose({ space, trials: [running], trialNumber: 1, seed: 4 }).params).not.toEqual(first.params);
  });

  it('refuses continuous floats without grid values, and values outside the domain', () => {
    const continuous = parseSearchSpace({ lr: { type: 'float', low: 0, high: 1 } });
    expect(() => enumerateGrid(continuous)).toThrow(GridError);
    expect(() => enumerateGrid(continuous)).toThrow('"lr" is a continuous float: give its grid values in options.values.lr, or a step');
    expect(() => enumerateGrid(continuous, { values: { lr: [0.5, 2] } })).toThrow('grid value 2 at lr[1] is outside the domain of "lr"');
    expect(enumerateGrid(continuous, { values: { lr: [0.1, 0.5] } })).toEqual([{ lr: 0.1 }, { lr: 0.5 }]);
  });
});
