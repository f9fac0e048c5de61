import { createMedianPruner } from '../pruner/median-pruner.js';
import { createRandomSampler } from '../sampler/random-sampler.js';
import { createTpeSampler } from '../sampler/tpe/tpe-sampler.js';
import { parseSearchSpace } from '../space/search-space.schema.js';
import { bestValueCurve, runSequentialStudy } from './sequential-study.js';
import { completeTrial, failTrial, reportIntermediate, startTrial } from './trial-lifecycle.js';

describe('trial lifecycle', () => {
  const running = startTrial(4, { params: { x: 1 }, samplerAttrs: { g: 0 } });

  it('records reports and completes', () => {
    const t = completeTrial(reportIntermediate(running, 0, 2.5), [1.5], ['minimize']);
    expect(t).toEqual({ number: 4, state: 'complete', params: { x: 1 }, values: [1.5], intermediateValues: [{ step: 0, value: 2.5 }], samplerAttrs: { g: 0 } });
  });

  it('refuses illegal transitions naming the trial', () => {
    expect(() => reportIntermediate(reportIntermediate(running, 1, 2), 1, 3)).toThrow('trial 4 already reported step 1');
    expect(() => reportIntermediate(running, 0, NaN)).toThrow('trial 4: the value at step 0 is NaN, not a finite number');
    expect(() => completeTrial(running, [1, 2], ['minimize'])).toThrow('trial 4: 2 objective values for 1 directions');
    expect(() => reportIntermediate(failTrial(running), 0, 1)).toThrow('trial 4 is failed; only a running trial can report');
  });
});

describe('a study with a median pruner on synthetic learning curves', () => {
  // Loss at epoch t is (x - 0.3)^2 + 1 / (t + 1): curves never cross, so a trial is worse than
  // another at every step exactly when its x is further from 0.3.
  const space = parseSearchSpace({ x: { type: 'float', low: 0, high: 1 } });
  const quality = (x: number) => (x - 0.3) ** 2;
  const objective = (p: Record<string, unknown>, report: (step: number, value: number) => boolean) => {
    const x = p['x'] as number;
    let loss = Infinity;
    for (let t = 0; t < 10; t++) {
      loss = quality(x) + 1 / (t + 1);
      if (report(t, loss)) break;
    }
    return loss;
  };

  it.each([
    ['random', createRandomSampler()],
    ['tpe', createTpeSampler({ nStartupTrials: 8 })],
  ])('prunes only trials worse than the best complete one, early (%s)', (_name, sampler) => {
    const trials = runSequentialStudy({ space, sampler, objective: objective as never, nTrials: 40, seed: 9, pruner: createMedianPruner({ nStartupTrials: 5 }) });
    const pruned = trials.filter((t) => t.state === 'pruned');
    const complete = trials.filter((t) => t.state === 'complete');
    expect(pruned.length).toBeGreaterThanOrEqual(5);
    expect(complete.length + pruned.length).toBe(40);
    const bestComplete = Math.min(...complete.map((t) => quality(t.params['x'] as number)));
    for (const t of pruned) {
      expect(quality(t.params['x'] as number)).toBeGreaterThan(bestComplete);
      // With curves that never cross, the median pruner decides at the first step after warm-up.
      expect(t.intermediateValues).toHaveLength(1);
    }
    expect(bestValueCurve(trials).at(-1)!).toBeLessThan(0.1 + 0.01);
  });
});
