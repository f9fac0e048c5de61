import { jest } from '@jest/globals';
import { scenario } from './session-scenario.js';

/**
 * Training options (optimizers, schedules, warm-up, gradient accumulation and clipping) and the
 * clinical encoder's categorical embeddings, trained in a plain Node process on the tiny data set
 * of fixtures/session-scenarios.mjs. The arithmetic of each option is unit-tested beside its module.
 */
jest.setTimeout(150_000);

describe('training options and the clinical encoder', () => {
  it('with AdamW, reduce-on-plateau, warm-up, accumulation, clipping and dropout, a paused and resumed run equals an uninterrupted one', async () => {
    const r = await scenario('optionsPauseResume');
    // Pause asked after epoch 2's 2nd batch; windows are 4 batches, so it waits for the 4th.
    expect(r.first).toEqual({ kind: 'pause', epoch: 1, step: 4 });
    expect(r.savedMeta).toMatchObject({ epoch: 1, step: 4, globalStep: 10, plateau: { learningRate: 0.02, badEpochs: 0, cooldownLeft: 0 } });
    expect(r.resumedSteps[0]).toEqual([2, 5]);
    expect(r.resumedSteps).toHaveLength(24 - 10);
    // The plateau rule cut the rate twice, and the resumed run cut it at the same epochs.
    expect(r.rates).toEqual([0.02, 0.02, 0.01, 0.005]);
    expect(r.resumedRates).toEqual(r.rates.slice(1));
    (r.resumed as number[][]).forEach((w, i) => w.forEach((v, k) => expect(v).toBeCloseTo(r.reference[i][k], 5)));
    // The options changed the run: plain Adam ends elsewhere.
    const moved = (r.plain as number[][]).some((w, i) => w.some((v, k) => Math.abs(v - r.reference[i][k]) > 1e-3));
    expect(moved).toBe(true);
  });

  it('trains with adamw and with sgd with Nesterov momentum (adam: see training-session.test.ts)', async () => {
    const r = await scenario('optimizers');
    for (const name of ['adamw', 'sgd']) {
      expect(r[name].losses.at(-1)).toBeLessThan(r[name].losses[0] * 0.8);
      expect(r[name].auc).toBeGreaterThan(0.8);
    }
  });

  it('learns from a categorical column through embeddings, and saves and reloads with its third input and vocabularies', async () => {
    const r = await scenario('categorical');
    expect(r.inputNames).toEqual(['image', 'clinical', 'clinical_categorical']);
    expect(r.reloadedInputs).toEqual(r.inputNames);
    expect(r.layers).toEqual(expect.arrayContaining(['MedFusionColumnEmbeddings', 'BatchNormalization']));
    // Vocabulary of 3 + index 0; width min(16, ceil(1.6 x 4^0.56)) = 4.
    expect(r.embeddingShape).toEqual([4, 4]);
    expect(r.maxDiff).toBe(0);
    expect(r.metadata.medfusion).toMatchObject({ categoricalColumns: ['risk_group'], categoricalVocabularies: [['a', 'b', 'c']], clinicalColumns: ['risk', 'a', 'b'] });
    // Only the category tells the risk factor: without it the model is at chance.
    expect(r.test.auc).toBeGreaterThan(0.8);
    expect(r.test.auc).toBeGreaterThan(r.blindTest.auc + 0.2);
  });

});
