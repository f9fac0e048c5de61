import { tuningRng } from '../../random/tuning-rng.js';
import type { Trial } from '../../trial/trial.js';
import { defaultGamma, defaultWeights, ParzenEstimator, type ParzenParameters } from './parzen-estimator.js';
import { splitTrials } from './tpe-trial-split.js';

const params: ParzenParameters = { priorWeight: 1, considerMagicClip: true, considerEndpoints: false, multivariate: false, weights: defaultWeights };

describe('Optuna defaults', () => {
  it('gamma is min(ceil(0.1 n), 25)', () => {
    expect([1, 10, 11, 100, 249, 251, 1000].map(defaultGamma)).toEqual([1, 1, 2, 10, 25, 25, 25]);
  });

  it('weights are flat up to 25 observations, then ramp from 1/n for the oldest', () => {
    expect(defaultWeights(3)).toEqual([1, 1, 1]);
    const w = defaultWeights(30);
    expect(w).toHaveLength(30);
    expect(w[0]).toBeCloseTo(1 / 30, 12);
    expect(w[4]).toBeCloseTo(1, 12);
    expect(w.slice(5).every((x) => x === 1)).toBe(true);
  });
});

describe('Parzen estimator', () => {
  it('is a density on its bounds (continuous, trapezoid integral = 1)', () => {
    const est = new ParzenEstimator([[0.1, 0.15, 0.8]], [{ kind: 'numeric', low: 0, high: 1, step: undefined }], params);
    const n = 20_000;
    const xs = Array.from({ length: n + 1 }, (_, i) => [i / n]);
    const pdf = est.logPdf(xs).map(Math.exp);
    let integral = 0;
    for (let i = 0; i < n; i++) integral += (pdf[i]! + pdf[i + 1]!) / (2 * n);
    expect(integral).toBeCloseTo(1, 4);
    // Observations pull mass towards them: 0.12 is more likely than 0.5.
    expect(pdf[2400]!).toBeGreaterThan(pdf[10_000]!);
  });

  it('puts probability mass only on the grid of a stepped parameter, summing to 1', () => {
    const est = new ParzenEstimator([[2, 4, 4]], [{ kind: 'numeric', low: 0, high: 10, step: 2 }], params);
    const grid = [0, 2, 4, 6, 8, 10].map((x) => [x]);
    const total = est.logPdf(grid).reduce((s, l) => s + Math.exp(l), 0);
    expect(total).toBeCloseTo(1, 6);
    const draws = est.sample(tuningRng(1), 500).map((d) => d[0]!);
    expect(draws.every((x) => [0, 2, 4, 6, 8, 10].includes(x))).toBe(true);
  });

  it('smooths categorical observations with the prior', () => {
    const est = new ParzenEstimator([[0, 0, 2]], [{ kind: 'categorical', nChoices: 3 }], params);
    const p = est.logPdf([[0], [1], [2]]).map(Math.exp);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    // 4 kernels of weight 1/4 (3 observations + prior). An observation's row is prior_weight / 4 = 1/4
    // on every choice plus 1 on its own, normalised: [5/7, 1/7, 1/7]; the prior's row is uniform.
    expect(p[0]).toBeCloseTo((5 / 7 + 5 / 7 + 1 / 7 + 1 / 3) / 4, 12);
    expect(p[1]).toBeCloseTo((1 / 7 + 1 / 7 + 1 / 7 + 1 / 3) / 4, 12);
    expect(p[0]!).toBeGreaterThan(p[2]!);
    expect(p[2]!).toBeGreaterThan(p[1]!);
  });

  it('draws inside the bounds and near the observations in several dimensions', () => {
    const est = new ParzenEstimator(
      [
        [0.2, 0.25],
        [3, 3],
      ],
      [
        { kind: 'numeric', low: 0, high: 1, step: undefined },
        { kind: 'categorical', nChoices: 4 },
      ],
      { ...params, multivariate: true },
    );
    const draws = est.sample(tuningRng(2), 1000);
    expect(draws.every(([x, c]) => x! >= 0 && x! <= 1 && Number.isInteger(c) && c! >= 0 && c! < 4)).toBe(true);
    expect(draws.filter(([, c]) => c === 3).length).toBeGreaterThan(400);
  });
});

describe('TPE split', () => {
  const t = (number: number, state: Trial['state'], value?: number, curve: number[] = []): Trial => ({
    number,
    state,
    params: {},
    ...(value === undefined ? {} : { values: [value] }),
    intermediateValues: curve.map((v, step) => ({ step, value: v })),
    samplerAttrs: {},
  });

  it('takes the best complete trials, then pruned ones that got furthest, and puts running trials above', () => {
    const finished = [t(0, 'complete', 5), t(1, 'complete', 1), t(2, 'pruned', undefined, [9, 9, 9]), t(3, 'pruned', undefined, [0]), t(4, 'complete', 3)];
    const running = [t(5, 'running')];
    const split = splitTrials(finished, running, 4, 'minimize');
    expect(split.below.map((x) => x.number)).toEqual([0, 1, 2, 4]);
    expect(split.above.map((x) => x.number)).toEqual([3, 5]);
    const max = splitTrials(finished, [], 1, 'maximize');
    expect(max.below.map((x) => x.number)).toEqual([0]);
  });
});
