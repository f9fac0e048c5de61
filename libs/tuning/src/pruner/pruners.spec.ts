import type { Direction, Trial } from '../trial/trial.js';
import { createHyperbandPruner } from './hyperband-pruner.js';
import { createMedianPruner, linearPercentile } from './median-pruner.js';
import type { Pruner } from './pruner.js';
import { createSuccessiveHalvingPruner } from './successive-halving-pruner.js';

const complete = (number: number, curve: number[]): Trial => ({
  number,
  state: 'complete',
  params: {},
  values: [curve.at(-1)!],
  intermediateValues: curve.map((value, step) => ({ step, value })),
  samplerAttrs: {},
});

/** The decision after each report of `curve` (steps 0, 1, ...), stopping at the first prune. */
function decisionsAlong(pruner: Pruner, others: Trial[], curve: number[], number = 99): boolean[] {
  const decisions: boolean[] = [];
  const trial: Trial = { number, state: 'running', params: {}, intermediateValues: [], samplerAttrs: {} };
  for (let step = 0; step < curve.length; step++) {
    trial.intermediateValues.push({ step, value: curve[step]! });
    decisions.push(pruner.shouldPrune(trial, [...others, trial], step));
  }
  return decisions;
}

const negate = (curve: number[]) => curve.map((v) => -v);

describe('median pruner', () => {
  // Medians of the complete trials per step: 10, 8, 6, 4.
  const history = [complete(0, [10, 8, 6, 4]), complete(1, [12, 9, 7, 5]), complete(2, [8, 6, 5, 3])];

  it.each<[Direction, (c: number[]) => number[]]>([
    ['minimize', (c) => c],
    ['maximize', negate],
  ])('compares the best value so far with the median at each step (%s)', (direction, map) => {
    const pruner = createMedianPruner({ direction, nStartupTrials: 2, nWarmupSteps: 1 });
    const others = history.map((t) => complete(t.number, map(t.intermediateValues.map((iv) => iv.value))));
    // Step 0 is warm-up although 11 > 10; at step 1 the best so far, 8.5, is worse than 8.
    expect(decisionsAlong(pruner, others, map([11, 8.5, 5.5, 3]))).toEqual([false, true, false, false]);
    // Best so far 7: fine at step 1 (median 8), worse than 6 at step 2, 4.5 worse than 4 at step 3.
    expect(decisionsAlong(pruner, others, map([20, 7, 9, 4.5]))).toEqual([false, false, true, true]);
    // Equal to the median is kept.
    expect(decisionsAlong(pruner, others, map([10, 8, 6, 4]))).toEqual([false, false, false, false]);
  });

  it('waits for n_startup_trials complete trials and for n_min_trials reports at the step', () => {
    expect(decisionsAlong(createMedianPruner({ nStartupTrials: 4 }), history, [50, 50])).toEqual([false, false]);
    expect(decisionsAlong(createMedianPruner({ nStartupTrials: 3 }), history, [50, 50])).toEqual([true, true]);
    expect(decisionsAlong(createMedianPruner({ nStartupTrials: 1, nMinTrials: 4 }), history, [50, 50])).toEqual([false, false]);
    // Running and pruned trials are not part of the comparison.
    const running: Trial = { ...complete(5, [1, 1]), state: 'running' };
    expect(decisionsAlong(createMedianPruner({ nStartupTrials: 1 }), [history[0]!, running], [11, 9])).toEqual([true, true]);
  });

  it('checks only at the first report of each interval after the warm-up', () => {
    const pruner = createMedianPruner({ nStartupTrials: 1, intervalSteps: 2 });
    expect(decisionsAlong(pruner, history, [20, 20, 20, 20])).toEqual([true, false, true, false]);
    const warm = createMedianPruner({ nStartupTrials: 1, nWarmupSteps: 1, intervalSteps: 2 });
    expect(decisionsAlong(warm, history, [20, 20, 20, 20])).toEqual([false, true, false, true]);
  });

  it('interpolates percentiles like numpy', () => {
    expect(linearPercentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(linearPercentile([3, 1, 2], 25)).toBe(1.5);
  });
});

describe('successive halving (ASHA) pruner', () => {
  /**
   * Reports arrive in this order; after each, the pruner is asked and a pruned trial stops. Rungs at
   * steps 1, 2, 4 (min resource 1, reduction factor 2). The expected decisions are worked by hand
   * in the comments below.
   */
  function replay(pruner: Pruner, events: [number, number, number][], map: (v: number) => number = (v) => v): string[] {
    const trials = new Map<number, Trial>();
    const log: string[] = [];
    for (const [number, step, value] of events) {
      const t = trials.get(number) ?? { number, state: 'running' as const, params: {}, intermediateValues: [], samplerAttrs: {} };
      trials.set(number, t);
      if (t.state === 'pruned') throw new Error(`trial ${number} reports after being pruned`);
      t.intermediateValues.push({ step, value: map(value) });
      const prune = pruner.shouldPrune(t, [...trials.values()], step);
      if (prune) t.state = 'pruned';
      log.push(`${number}@${step}:${prune ? 'prune' : 'go'}`);
    }
    return log;
  }

  const events: [number, number, number][] = [
    [0, 1, 5], // rung 0 holds [5]: alone, promoted
    [0, 2, 4], // rung 1 holds [4]: promoted
    [0, 3, 3], // no rung at step 3
    [0, 4, 2], // rung 2 holds [2]: promoted
    [1, 1, 6], // rung 0 [5, 6]: top 1 of 2 is 5, 6 is pruned
    [2, 1, 4], // rung 0 [5, 6, 4]: top 1 of 3 is 4, kept
    [2, 2, 3.5], // rung 1 [4, 3.5]: kept
    [3, 1, 4.5], // rung 0 [5, 6, 4, 4.5]: top 2 of 4 are 4 and 4.5, kept
    [3, 2, 5], // rung 1 [4, 3.5, 5]: top 1 is 3.5, pruned
    [4, 1, 7], // rung 0 [5, 6, 4, 4.5, 7]: top 2 are 4 and 4.5, pruned
    [5, 2, 3], // first report at step 2 passes rungs 0 and 1 with the same value: [.., 3] top 3 of 6, then [4, 3.5, 5, 3] top 2: kept
  ];
  const expected = ['0@1:go', '0@2:go', '0@3:go', '0@4:go', '1@1:prune', '2@1:go', '2@2:go', '3@1:go', '3@2:prune', '4@1:prune', '5@2:go'];

  it('makes the expected decision at every report (minimize)', () => {
    expect(replay(createSuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 }), events)).toEqual(expected);
  });

  it('makes the mirrored decisions when maximizing the negated values', () => {
    expect(replay(createSuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2, direction: 'maximize' }), events, (v) => -v)).toEqual(expected);
  });

  it('prunes until a rung has more than bootstrap_count values, and respects the early-stopping rate', () => {
    const boot = createSuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2, bootstrapCount: 1 });
    expect(replay(boot, [[0, 1, 5], [1, 1, 4]])).toEqual(['0@1:prune', '1@1:go']);
    // Rate 1: the first rung is at step 2, so step 1 never prunes.
    const late = createSuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2, minEarlyStoppingRate: 1 });
    expect(replay(late, [[0, 1, 1], [1, 1, 9], [0, 2, 1], [1, 2, 9]])).toEqual(['0@1:go', '1@1:go', '0@2:go', '1@2:prune']);
  });
});

describe('hyperband pruner', () => {
  const pruner = createHyperbandPruner({ minResource: 1, maxResource: 9, reductionFactor: 3, seed: 7 });

  it('has floor(log_3 9) + 1 = 3 brackets, filled in proportion to budgets 9 : 5 : 3', () => {
    expect(pruner.nBrackets).toBe(3);
    const counts = [0, 0, 0];
    for (let n = 0; n < 17_000; n++) counts[pruner.bracketOf(n)]!++;
    expect(counts.map((c) => Math.round(c / 1000))).toEqual([9, 5, 3]);
    // Fixed by (seed, number): the same for a rebuilt pruner, different under another seed.
    const first = (p: { bracketOf(n: number): number }) => Array.from({ length: 30 }, (_, n) => p.bracketOf(n));
    expect(first(createHyperbandPruner({ maxResource: 9, seed: 7 }))).toEqual(first(pruner));
    expect(first(createHyperbandPruner({ maxResource: 9, seed: 8 }))).not.toEqual(first(pruner));
  });

  it('runs successive halving within each bracket only, with rungs at 3^bracket', () => {
    const inBracket = (b: number) => Array.from({ length: 200 }, (_, n) => n).filter((n) => pruner.bracketOf(n) === b);
    const [a, b] = inBracket(0);
    const [x] = inBracket(1);
    const [z] = inBracket(2);
    const trial = (number: number, curve: number[]): Trial => ({ number, state: 'running', params: {}, intermediateValues: curve.map((value, step) => ({ step, value })), samplerAttrs: {} });
    const best = trial(a!, [1, 1, 1, 1]);
    // Bracket 0, rung at step 1: 2 is worse than the bracket's 1 (top 1 of 2 promoted).
    expect(pruner.shouldPrune(trial(b!, [2, 2]), [best], 1)).toBe(true);
    // Bracket 1 has no rung before step 3, and at step 3 the trial is alone in its bracket.
    expect(pruner.shouldPrune(trial(x!, [2, 2]), [best], 1)).toBe(false);
    expect(pruner.shouldPrune(trial(x!, [2, 2, 2, 2]), [best], 3)).toBe(false);
    // Bracket 2's only rung is at step 9.
    expect(pruner.shouldPrune(trial(z!, [50, 50, 50, 50, 50, 50, 50, 50]), [best], 7)).toBe(false);
  });
});
