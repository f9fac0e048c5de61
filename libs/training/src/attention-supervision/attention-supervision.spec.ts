import * as tf from '@tensorflow/tfjs';
import type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor4D, Variable } from '@tensorflow/tfjs';
import { CbamSpatialAttention, ClassActivationMap } from './attention-layers.js';
import { attentionSupervisionTerm, camAttentionLoss, camHeadCrossEntropy, CAM_HEAD_LOSS_WEIGHT, maskAttentionLoss, normalisedTrueClassCam, resizeMasks } from './attention-losses.js';

const { log } = Math;

/** Masks given as rows of pixel rows, as B x H x W x 1. */
function masks(rows: number[][][]): Tensor4D {
  return tf.tensor4d(rows.flat(2), [rows.length, rows[0]!.length, rows[0]![0]!.length, 1]);
}

function scalar(t: Tensor): number {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('region masks at the map size', () => {
  it('averages each cell when the sizes divide, resamples otherwise', () => {
    const m = masks([[[1, 1, 0, 1], [1, 0, 0, 1]]]);
    expect(Array.from(resizeMasks(tf, m, 1, 2).dataSync())).toEqual([0.75, 0.5]);
    expect(resizeMasks(tf, m, 3, 3).shape).toEqual([1, 3, 3, 1]);
  });
});

describe('mask loss (BCE of the spatial attention map)', () => {
  const region = () => masks([[[1, 1, 0, 0], [1, 1, 0, 0]], [[0, 0, 0, 0], [0, 0, 0, 0]]]);
  const attention = () => tf.tensor4d([0.8, 0.4, 0.5, 0.5], [2, 1, 2, 1]);

  it('matches the hand-worked figure and leaves out rows without a mask', () => {
    // Row 0: mask resized to [1, 0]; -(log 0.8 + log 0.6) / 2.
    const row0 = -(log(0.8) + log(0.6)) / 2;
    expect(scalar(maskAttentionLoss(tf, attention(), { masks: region(), hasMask: tf.tensor1d([1, 0]) }))).toBeCloseTo(row0, 5);
    // Row 1 (an all-background mask, A = 0.5 everywhere) adds log 2.
    expect(scalar(maskAttentionLoss(tf, attention(), { masks: region(), hasMask: tf.tensor1d([1, 1]) }))).toBeCloseTo((row0 + log(2)) / 2, 5);
    expect(scalar(maskAttentionLoss(tf, attention(), { masks: region(), hasMask: tf.tensor1d([0, 0]) }))).toBe(0);
  });

  it('is lower for a map that follows the mask', () => {
    const targets = { masks: region(), hasMask: tf.tensor1d([1, 1]) };
    const follows = scalar(maskAttentionLoss(tf, tf.tensor4d([0.9, 0.1, 0.1, 0.1], [2, 1, 2, 1]), targets));
    const opposite = scalar(maskAttentionLoss(tf, tf.tensor4d([0.1, 0.9, 0.9, 0.9], [2, 1, 2, 1]), targets));
    expect(follows).toBeLessThan(0.2);
    expect(opposite).toBeGreaterThan(1.5);
  });
});

describe('cam loss (MSE of the normalised class activation map)', () => {
  // One row, a 1 x 3 map per class: class 0 [1, 2, 3], class 1 [4, 0, 2].
  const cams = () => tf.tensor4d([1, 4, 2, 0, 3, 2], [1, 1, 3, 2]);
  const y = (k: number) => tf.oneHot(tf.tensor1d([k], 'int32'), 2) as Tensor2D;
  const region = () => tf.tensor4d([1, 0, 0], [1, 1, 3, 1]);

  it('normalises the true class map to 0..1 per row', () => {
    expect(Array.from(normalisedTrueClassCam(tf, cams(), y(1)).dataSync()).map((v) => +v.toFixed(5))).toEqual([1, 0, 0.5]);
    expect(Array.from(normalisedTrueClassCam(tf, cams(), y(0)).dataSync()).map((v) => +v.toFixed(5))).toEqual([0, 0.5, 1]);
  });

  it('matches the hand-worked figures', () => {
    // Class 1: [1, 0, 0.5] against [1, 0, 0] -> 0.25 / 3; class 0: [0, 0.5, 1] -> (1 + 0.25 + 1) / 3.
    expect(scalar(camAttentionLoss(tf, cams(), y(1), { masks: region(), hasMask: tf.tensor1d([1]) }))).toBeCloseTo(0.25 / 3, 5);
    expect(scalar(camAttentionLoss(tf, cams(), y(0), { masks: region(), hasMask: tf.tensor1d([1]) }))).toBeCloseTo(2.25 / 3, 5);
    expect(scalar(camAttentionLoss(tf, cams(), y(0), { masks: region(), hasMask: tf.tensor1d([0]) }))).toBe(0);
    // An all-background mask cannot be matched by a 0..1 normalised map: its row is left out.
    expect(scalar(camAttentionLoss(tf, cams(), y(1), { masks: tf.zeros([1, 1, 3, 1]), hasMask: tf.tensor1d([1]) }))).toBe(0);
    const two = { masks: tf.concat([region(), tf.zeros([1, 1, 3, 1])]) as Tensor4D, hasMask: tf.tensor1d([1, 1]) as Tensor1D };
    expect(scalar(camAttentionLoss(tf, tf.concat([cams(), cams()]) as Tensor4D, tf.concat([y(1), y(1)]) as Tensor2D, two))).toBeCloseTo(0.25 / 3, 5);
    // The CAM head's logits are the maps' means (2 and 2): cross-entropy log 2.
    expect(scalar(camHeadCrossEntropy(tf, cams(), y(0)))).toBeCloseTo(log(2), 5);
    const total = attentionSupervisionTerm(tf, 'cam', 2, cams(), y(1), { masks: region(), hasMask: tf.tensor1d([1]) });
    expect(scalar(total)).toBeCloseTo(CAM_HEAD_LOSS_WEIGHT * log(2) + 2 * (0.25 / 3), 5);
  });

  it('is differentiable: a non-zero gradient reaches the feature map and the CAM head weights', () => {
    const layer = new ClassActivationMap({ classes: 2, seed: 3 });
    const features = tf.variable(tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 5)) as Variable;
    const topLeft = [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]];
    const topRight = [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]];
    const targets = { masks: masks([topLeft, topRight]), hasMask: tf.tensor1d([1, 1]) as Tensor1D };
    layer.apply(features); // builds the kernel
    const kernel = layer.trainableWeights[0]!.read() as Variable;
    const { grads } = tf.variableGrads(() => camAttentionLoss(tf, layer.apply(features) as Tensor4D, tf.oneHot(tf.tensor1d([0, 1], 'int32'), 2) as Tensor2D, targets) as Scalar, [features, kernel]);
    for (const g of Object.values(grads)) expect(scalar(tf.sum(tf.abs(g)))).toBeGreaterThan(1e-4);
  });
});

describe('attention layers', () => {
  it('CBAM spatial attention is sigmoid(conv([channel mean; channel max]))', () => {
    const layer = new CbamSpatialAttention({ kernelSize: 1, seed: 0 });
    const f = tf.tensor4d([1, 3, 0, -2], [1, 1, 2, 2]);
    layer.apply(f);
    // Kernel: 1 x channel mean + 0.5 x channel max, bias -1.
    layer.setWeights([tf.tensor4d([1, 0.5], [1, 1, 2, 1]), tf.tensor1d([-1])]);
    const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
    const a = Array.from((layer.apply(f) as Tensor).dataSync());
    expect(a[0]).toBeCloseTo(sigmoid(2 + 1.5 - 1), 6);
    expect(a[1]).toBeCloseTo(sigmoid(-1 + 0 - 1), 6);
  });

  it('the class activation maps average to the linear classifier on pooled features', () => {
    const layer = new ClassActivationMap({ classes: 3, seed: 1 });
    const f = tf.randomNormal([2, 3, 3, 4], 0, 1, 'float32', 9) as Tensor4D;
    const maps = layer.apply(f) as Tensor4D;
    const [kernel, bias] = layer.getWeights();
    const logits = tf.add(tf.matMul(tf.mean(f, [1, 2]) as Tensor2D, kernel!), bias!);
    const diff = scalar(tf.max(tf.abs(tf.sub(tf.mean(maps, [1, 2]), logits))));
    expect(maps.shape).toEqual([2, 3, 3, 3]);
    expect(diff).toBeLessThan(1e-5);
  });

  it('the CBAM map takes a gradient from the mask loss', () => {
    const layer = new CbamSpatialAttention({ seed: 4 });
    const f = tf.variable(tf.randomNormal([1, 4, 4, 2], 0, 1, 'float32', 2)) as Variable;
    const targets = { masks: tf.tensor4d(Array.from({ length: 16 }, (_, i) => (i % 4 < 2 ? 1 : 0)), [1, 4, 4, 1]), hasMask: tf.tensor1d([1]) as Tensor1D };
    layer.apply(f);
    const vars = [f, ...layer.trainableWeights.map((w) => w.read() as Variable)];
    const { grads } = tf.variableGrads(() => maskAttentionLoss(tf, layer.apply(f) as Tensor4D, targets), vars);
    expect(Object.keys(grads)).toHaveLength(3);
    for (const g of Object.values(grads)) expect(scalar(tf.sum(tf.abs(g)))).toBeGreaterThan(1e-5);
  });
});
