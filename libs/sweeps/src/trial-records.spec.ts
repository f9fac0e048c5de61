import type { EpochRecord, TrialEntity } from '@medfusion/persistence';
import { bestTrial, countTrialStates, objectiveCurve, paretoFront, toTuningTrial } from './trial-records.js';

type Row = Pick<TrialEntity, 'number' | 'state' | 'values'>;
const row = (number: number, state: TrialEntity['state'], values: number[] | null = null): Row => ({ number, state, values });

describe('trial records', () => {
  it('picks the best complete trial in the objective’s direction, the lower number on ties', () => {
    const rows = [row(0, 'complete', [0.4]), row(1, 'pruned', [0.1]), row(2, 'complete', [0.3]), row(3, 'complete', [0.3]), row(4, 'failed')];
    expect(bestTrial(rows, [{ metric: 'val_loss', direction: 'minimize' }])?.number).toBe(2);
    expect(bestTrial(rows, [{ metric: 'val_auc', direction: 'maximize' }])?.number).toBe(0);
    expect(bestTrial([row(0, 'running')], [{ metric: 'val_loss', direction: 'minimize' }])).toBeNull();
    // Several objectives have a front, not one best trial.
    expect(bestTrial(rows, [{ metric: 'val_loss', direction: 'minimize' }, { metric: 'val_auc', direction: 'maximize' }])).toBeNull();
  });

  it('finds the Pareto front of complete trials in mixed directions', () => {
    const objectives = [
      { metric: 'val_loss', direction: 'minimize' },
      { metric: 'val_auc', direction: 'maximize' },
    ] as const;
    const rows = [
      row(0, 'complete', [0.5, 0.8]), // dominated by 3
      row(1, 'complete', [0.4, 0.7]), // front (lower loss)
      row(2, 'complete', [0.6, 0.7]), // dominated by 0
      row(3, 'complete', [0.5, 0.9]), // front: same loss as 0, higher AUC, so 0 is dominated
      row(4, 'pruned', [0.1, 0.99]), // not complete: left out
    ];
    expect(paretoFront(rows, [...objectives]).map((t) => t.number)).toEqual([1, 3]);
    expect(paretoFront([], [...objectives])).toEqual([]);
  });

  it('reads the objective per epoch from a job history, skipping missing and non-finite values', () => {
    const history: EpochRecord[] = [
      { epoch: 1, metrics: { val_loss: 0.7 } },
      { epoch: 2, metrics: { val_loss: Number.NaN } },
      { epoch: 3, metrics: { loss: 0.2 } },
      { epoch: 4, metrics: { val_loss: 0.5 } },
    ];
    expect(objectiveCurve(history, 'val_loss')).toEqual({ '1': 0.7, '4': 0.5 });
  });

  it('maps stored trials onto the tuning library’s, leaving waiting ones out and stopped ones as failed', () => {
    const base = { params: { a: 1 }, samplerAttrs: { g: 2 }, intermediateValues: { '1': 0.5, '2': 0.4 }, values: [0.4] } as unknown as TrialEntity;
    expect(toTuningTrial({ ...base, number: 3, state: 'complete' } as TrialEntity)).toEqual({
      number: 3,
      state: 'complete',
      params: { a: 1 },
      values: [0.4],
      intermediateValues: [
        { step: 1, value: 0.5 },
        { step: 2, value: 0.4 },
      ],
      samplerAttrs: { g: 2 },
    });
    expect(toTuningTrial({ ...base, number: 4, state: 'waiting' } as TrialEntity)).toBeNull();
    const stopped = toTuningTrial({ ...base, number: 5, state: 'stopped' } as TrialEntity)!;
    expect(stopped.state).toBe('failed');
    expect(stopped.values).toBeUndefined();
    expect(countTrialStates([row(0, 'complete'), row(1, 'complete'), row(2, 'pruned')] as TrialEntity[])).toEqual({ complete: 2, pruned: 1 });
  });
});
