import { jest } from '@jest/globals';
import { scenario } from './session-scenario.js';

/**
 * The training loop, run in a plain Node process (see fixtures/session-scenarios.mjs for why) on a
 * tiny data set whose label needs both the image and a clinical feature.
 */
jest.setTimeout(120_000);

describe('runTrainingSession', () => {
  it('learns a rule that needs both modalities', async () => {
    const r = await scenario('learns');
    expect(r.kind).toBe('completed');
    expect(r.epochs).toHaveLength(12);
    expect(r.epochs.at(-1).train_loss).toBeLessThan(r.epochs[0].train_loss);
    expect(r.test.auc).toBeGreaterThan(0.9);
  });

  it('learns with focal loss and balanced class weights too', async () => {
    const r = await scenario('focalBalanced');
    expect(r.kind).toBe('completed');
    expect(r.test.auc).toBeGreaterThan(0.9);
  });

  it('reports each step and epoch with progress that reaches 1', async () => {
    const r = await scenario('events');
    expect(r.steps).toEqual([1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
    expect(r.progress).toEqual([1 / 3, 2 / 3, 1]);
  });

  it('is reproducible: the same seed gives the same weights', async () => {
    const r = await scenario('reproducible');
    expect(r.a).toEqual(r.b);
  });

  it('pausing mid-epoch and resuming from the checkpoint ends with the same weights as an uninterrupted run', async () => {
    const r = await scenario('pauseResume');
    expect(r.first).toEqual({ kind: 'pause', epoch: 1, step: 2 });
    expect(r.savedMeta).toMatchObject({ epoch: 1, step: 2, globalStep: 8 });
    expect(r.resumedSteps[0]).toEqual([2, 3]);
    expect(r.resumedSteps).toHaveLength(18 - 8);
    // Bit for bit: the checkpoint holds Adam's running beta powers, not only its moments and step.
    expect(r.resumed).toEqual(r.reference);
  });

  it('resumes Adam bit for bit however early the pause (after 1, 2 or 3 updates)', async () => {
    const r = await scenario('adamEarlyResume');
    for (const resumed of r.resumed as number[][][]) expect(resumed).toEqual(r.reference);
  });

  it('stops with a checkpoint when asked to stop', async () => {
    const r = await scenario('stop');
    expect(r.outcome).toEqual({ kind: 'stop', epoch: 0, step: 0 });
    expect(r.reasons).toEqual(['stop']);
  });

  it('fails with an actionable error when the loss is not finite', async () => {
    expect((await scenario('nanLoss')).error).toMatch(/training loss became NaN at epoch 1, step 1; lower trainingConfig.learningRate/);
  });

  it('refuses a checkpoint from a different model', async () => {
    expect((await scenario('otherModel')).error).toMatch(/was the model config changed/);
  });
});
