#!/usr/bin/env node
// Best value against number of trials for random search, TPE (univariate and multivariate) and
// CMA-ES on Branin, Hartmann-6 and 10-D Rosenbrock: the median over seeds of the best value found
// after n trials, with the known optimum beside it. Then NSGA-II against random search on ZDT1
// (30 variables): hypervolume of all points found, against (1, 1), where the true front gives 2/3.
// Usage: npm run build && node bench/sweeps.mjs [--seeds 10] [--checkpoints 10,25,50,100] [--zdt1-trials 4000]
import { parseArgs } from 'node:util';
import {
  bestValueCurve,
  branin,
  createCmaEsSampler,
  createNsga2Sampler,
  createRandomSampler,
  createTpeSampler,
  hartmann6,
  hypervolume2d,
  rosenbrock,
  runSequentialStudy,
  zdt1,
} from '../libs/tuning/dist/index.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '10' },
    checkpoints: { type: 'string', default: '10,25,50,100' },
    'zdt1-trials': { type: 'string', default: '4000' },
  },
});
const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i);
const checkpoints = values.checkpoints.split(',').map(Number);
const nTrials = Math.max(...checkpoints);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (v) => (Math.abs(v) >= 1e3 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toFixed(4)).padStart(10);

const samplers = [
  ['random', () => createRandomSampler()],
  ['tpe', () => createTpeSampler()],
  ['tpe-multivariate', () => createTpeSampler({ multivariate: true })],
  ['cmaes', () => createCmaEsSampler()],
];

console.log(`median over ${seeds.length} seeds of the best value after n trials (lower is better); ms/trial = sampler + objective time`);
for (const fn of [branin, hartmann6, rosenbrock(10)]) {
  console.log(`\n${fn.name} (optimum ${fn.optimum.toFixed(6)})`);
  console.log(`${'sampler'.padEnd(17)}${checkpoints.map((n) => `n=${n}`.padStart(10)).join('')}  ms/trial`);
  for (const [name, make] of samplers) {
    const t0 = performance.now();
    const curves = seeds.map((seed) => bestValueCurve(runSequentialStudy({ space: fn.space, sampler: make(), objective: fn.evaluate, nTrials, seed })));
    const msPerTrial = (performance.now() - t0) / (seeds.length * nTrials);
    console.log(`${name.padEnd(17)}${checkpoints.map((n) => fmt(median(curves.map((c) => c[n - 1])))).join('')}  ${msPerTrial.toFixed(2).padStart(8)}`);
  }
}

const zdt = zdt1(30);
const zTrials = Number(values['zdt1-trials']);
const zSeeds = seeds.slice(0, 3);
console.log(`\nzdt1, 30 variables, ${zTrials} trials, median over ${zSeeds.length} seeds: hypervolume vs (1, 1) (front: ${(2 / 3).toFixed(4)}) and vs (1, 10)`);
for (const [name, make] of [
  ['random', () => createRandomSampler()],
  ['nsga2 (pop 50)', () => createNsga2Sampler({ populationSize: 50 })],
]) {
  const t0 = performance.now();
  const runs = zSeeds.map((seed) => runSequentialStudy({ space: zdt.space, sampler: make(), objective: zdt.evaluate, nTrials: zTrials, seed, directions: ['minimize', 'minimize'] }).map((t) => t.values));
  const ms = (performance.now() - t0) / (zSeeds.length * zTrials);
  console.log(`${name.padEnd(17)}${fmt(median(runs.map((pts) => hypervolume2d(pts, [1, 1]))))}${fmt(median(runs.map((pts) => hypervolume2d(pts, [1, 10]))))}  ${ms.toFixed(2).padStart(8)} ms/trial`);
}
