import * as tf from '@tensorflow/tfjs';
import { trainingConfigSchema } from '@medfusion/contracts';
import { classificationLoss, resolveClassWeights } from './classification-loss.js';

const loss = (cfg: object, weights?: number[]) => {
  const lossConfig = trainingConfigSchema.parse({ epochs: 1, loss: cfg }).loss;
  const yTrue = tf.tensor2d([
    [0, 1],
    [1, 0],
  ]);
  const yPred = tf.tensor2d([
    [0.2, 0.8],
    [0.6, 0.4],
  ]);
  return classificationLoss(tf, lossConfig, weights)(yTrue, yPred).dataSync()[0]!;
};

beforeAll(() => tf.setBackend('cpu'));

describe('classification loss', () => {
  it('is categorical cross-entropy by default', () => {
    // -(ln 0.8 + ln 0.6) / 2
    expect(loss({})).toBeCloseTo(-(Math.log(0.8) + Math.log(0.6)) / 2, 5);
  });

  it('down-weights easy cases with focal loss', () => {
    // gamma 2: (0.2^2 * -ln 0.8 + 0.4^2 * -ln 0.6) / 2
    expect(loss({ type: 'focal', gamma: 2 })).toBeCloseTo((0.04 * -Math.log(0.8) + 0.16 * -Math.log(0.6)) / 2, 5);
  });

  it('scales each case by its true class weight', () => {
    // class 1 weight 3, class 0 weight 1: (3 * -ln 0.8 + 1 * -ln 0.6) / 2
    expect(loss({}, [1, 3])).toBeCloseTo((3 * -Math.log(0.8) - Math.log(0.6)) / 2, 5);
  });

  it('resolves balanced weights from the training labels and checks given ones', () => {
    const cfg = trainingConfigSchema.parse({ epochs: 1, loss: { classWeights: 'balanced' } }).loss;
    // 6 cases, 2 classes, counts 4 and 2: 6 / (2 * 4) = 0.75, 6 / (2 * 2) = 1.5
    expect(resolveClassWeights(cfg, Int32Array.from([0, 0, 0, 0, 1, 1]), 2)).toEqual([0.75, 1.5]);
    const wrong = trainingConfigSchema.parse({ epochs: 1, loss: { classWeights: [1, 2, 3] } }).loss;
    expect(() => resolveClassWeights(wrong, Int32Array.from([0, 1]), 2)).toThrow(/has 3 weights but the model has 2 classes/);
    expect(resolveClassWeights(trainingConfigSchema.parse({ epochs: 1 }).loss, Int32Array.from([0]), 2)).toBeUndefined();
  });
});
