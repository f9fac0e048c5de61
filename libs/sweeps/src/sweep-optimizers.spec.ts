import { createSweepSchema } from '@medfusion/contracts';
import { isInDomain, type Trial } from '@medfusion/tuning';
import { prunerFor, samplerFor } from './sweep-optimizers.js';

const DATASET = '00000000-0000-4000-8000-000000000001';

function config(overrides: Record<string, unknown>) {
  return createSweepSchema.parse({
    name: 's',
    searchSpace: {
      'trainingConfig.learningRate': { type: 'float', low: 1e-4, high: 0.1, log: true },
      'modelConfig.dropout': { type: 'float', low: 0, high: 0.5, step: 0.1 },
      'modelConfig.fusion': { type: 'categorical', choices: ['concatenate', 'gated'] },
    },
    objectives: [{ metric: 'val_auc', direction: 'maximize' }],
    budget: { maxTrials: 10 },
    baseTrainingJob: { dataConfig: { datasetId: DATASET }, trainingConfig: { epochs: 4 } },
    ...overrides,
  });
}

const complete = (number: number, curve: number[]): Trial => ({
  number,
  state: 'complete',
  params: {},
  values: [curve.at(-1)!],
  intermediateValues: curve.map((value, i) => ({ step: i + 1, value })),
  samplerAttrs: {},
});

describe('sampler and pruner from a sweep configuration', () => {
  it.each(['random', 'grid', 'tpe', 'cmaes', 'nsga2'] as const)('%s proposes parameters inside the space', (type) => {
    const c = config({ sampler: { type, options: type === 'grid' ? { values: { 'trainingConfig.learningRate': [0.001, 0.01] } } : {} } });
    const proposal = samplerFor(c).propose({ space: c.searchSpace, trials: [], trialNumber: 0, seed: 1, directions: ['maximize'] });
    for (const [name, spec] of Object.entries(c.searchSpace)) expect(isInDomain(spec, proposal.params[name])).toBe(true);
  });

  it('gives the pruner the first objective’s direction', () => {
    const others = [complete(0, [0.8, 0.85]), complete(1, [0.9, 0.92])];
    const low: Trial = { number: 2, state: 'running', params: {}, intermediateValues: [{ step: 1, value: 0.2 }], samplerAttrs: {} };
    const pruner = (direction: 'minimize' | 'maximize') =>
      prunerFor(config({ objectives: [{ metric: 'val_auc', direction }], pruner: { type: 'percentile', options: { percentile: 25, nStartupTrials: 2 } } }))!;
    expect(pruner('maximize').shouldPrune(low, [...others, low], 1)).toBe(true);
    expect(pruner('minimize').shouldPrune(low, [...others, low], 1)).toBe(false);
  });

  it('builds every pruner type, and none for `none`', () => {
    expect(prunerFor(config({ pruner: { type: 'none' } }))).toBeNull();
    expect(prunerFor(config({ pruner: { type: 'median' } }))!.name).toBe('median');
    expect(prunerFor(config({ pruner: { type: 'successive_halving', options: { minResource: 1 } } }))).not.toBeNull();
    expect(prunerFor(config({ pruner: { type: 'hyperband', options: { maxResource: 4 } } }))).not.toBeNull();
  });
});
