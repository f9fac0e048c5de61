import * as tf from '@tensorflow/tfjs';
import type { SymbolicTensor, Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs';
import { LearnedViewWeights, MaskedViewPooling, ViewAttentionPooling, ViewCrossAttentionPooling } from './view-layers.js';
import { buildMultiViewBranch } from './multiview-branch.js';
import { maskedMax, maskedMean, maskedSoftmax } from './view-math.js';
import { multiViewObjective, perViewCrossEntropy } from './view-loss.js';

const { exp } = Math;

// Three cases of three 2-feature views: case 0 misses its middle view, case 1 its last (which holds
// the largest values), case 2 has no view at all.
const h = (): Tensor3D =>
  tf.tensor3d([
    [[1, 2], [30, 40], [5, 6]],
    [[-1, -5], [-3, -2], [9, 9]],
    [[7, 7], [8, 8], [9, 9]],
  ]);
const mask = (): Tensor2D => tf.tensor2d([[1, 0, 1], [1, 1, 0], [0, 0, 0]]);

function values(t: Tensor): number[][] {
  const out = t.arraySync() as number[][];
  t.dispose();
  return out;
}

function expectClose(actual: number[][], expected: number[][], digits = 5): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(expected[i]![j]!, digits)));
}

describe('masked view reductions', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('mean averages the present views only; a case with none gets zeros', () => {
    expectClose(values(maskedMean(tf, h(), mask())), [[3, 4], [-2, -3.5], [0, 0]]);
  });

  it('max takes the largest present value, never a missing view, even when all present values are negative', () => {
    expectClose(values(maskedMax(tf, h(), mask())), [[5, 6], [-1, -2], [0, 0]]);
  });

  it('softmax gives missing views weight 0 and sums to 1 over the present ones', () => {
    const w = values(maskedSoftmax(tf, tf.tensor2d([[1, 2, 3], [0, 0, 5], [1, 1, 1]]), mask()));
    const z = exp(1) + exp(3);
    expectClose(w, [[exp(1) / z, 0, exp(3) / z], [0.5, 0.5, 0], [0, 0, 0]]);
  });

  it('a masked max sends no gradient to a missing view', () => {
    const g = tf.grad((x: Tensor) => tf.sum(maskedMax(tf, x as Tensor3D, mask())))(h());
    expect(g.arraySync()).toEqual([
      [[0, 0], [0, 0], [1, 1]],
      [[1, 0], [0, 1], [0, 0]],
      [[0, 0], [0, 0], [0, 0]],
    ]);
  });
});

describe('view aggregation layers', () => {
  it('MaskedViewPooling runs the masked mean and max', () => {
    expectClose(values(new MaskedViewPooling({ mode: 'mean' }).apply([h(), mask()]) as Tensor), [[3, 4], [-2, -3.5], [0, 0]]);
    expectClose(values(new MaskedViewPooling({ mode: 'max' }).apply([h(), mask()]) as Tensor), [[5, 6], [-1, -2], [0, 0]]);
  });

  it('LearnedViewWeights starts as the masked mean and follows its per-view scores', () => {
    const layer = new LearnedViewWeights({});
    expectClose(values(layer.apply([h(), mask()]) as Tensor), [[3, 4], [-2, -3.5], [0, 0]]);
    layer.setWeights([tf.tensor1d([Math.log(3), 0, 0])]);
    // Case 0: weights 3:1 over views 1 and 3 -> 0.75 [1, 2] + 0.25 [5, 6].
    expectClose(values(layer.apply([h(), mask()]) as Tensor), [[2, 3], [-1.5, -4.25], [0, 0]]);
  });

  it('ViewAttentionPooling weights sum to 1 over present views, ignore missing ones, and end in LayerNorm', () => {
    const layer = new ViewAttentionPooling({ seed: 1 });
    const out = values(layer.apply([h(), mask()]) as Tensor);
    const w = values(layer.viewWeights(h(), mask()));
    expect(w[0]![1]).toBe(0);
    expect(w[1]![2]).toBe(0);
    expect(w[0]![0]! + w[0]![2]!).toBeCloseTo(1, 6);
    expect(w[1]![0]! + w[1]![1]!).toBeCloseTo(1, 6);
    expect(w[2]).toEqual([0, 0, 0]);
    // LayerNorm with its initial gain 1 and bias 0: each 2-feature row becomes (-1, 1) or (1, -1).
    for (const row of out.slice(0, 2)) {
      expect(Math.abs(row[0]!)).toBeCloseTo(1, 2);
      expect(row[0]! + row[1]!).toBeCloseTo(0, 5);
    }
    // What a missing view holds changes nothing.
    const other = tf.tensor3d([
      [[1, 2], [-100, 100], [5, 6]],
      [[-1, -5], [-3, -2], [0, 50]],
      [[1, 2], [3, 4], [5, 6]],
    ]);
    expectClose(values(layer.apply([other, mask()]) as Tensor), out);
  });
});

describe('cross-attention view aggregation', () => {
  it('gives missing views weight 0 in every head, always keeps the CLS token, and ignores what a missing view holds', () => {
    const layer = new ViewCrossAttentionPooling({ seed: 2 });
    const out = values(layer.apply([h(), mask()]) as Tensor);
    const w = layer.viewWeights(h(), mask()).arraySync() as number[][][];
    // F = 2: two heads; keys are [CLS, view 1, view 2, view 3].
    expect(w[0]).toHaveLength(2);
    for (const head of w[0]!) {
      expect(head[2]).toBe(0);
      expect(head[0]! + head[1]! + head[3]!).toBeCloseTo(1, 6);
    }
    for (const head of w[1]!) expect(head[3]).toBe(0);
    // No view at all: the CLS token attends to itself only.
    for (const head of w[2]!) expect(head).toEqual([1, 0, 0, 0]);
    const other = tf.tensor3d([
      [[1, 2], [-100, 100], [5, 6]],
      [[-1, -5], [-3, -2], [0, 50]],
      [[1, 2], [3, 4], [5, 6]],
    ]);
    expectClose(values(layer.apply([other, mask()]) as Tensor), out);
  });
});

describe('multi-view branch', () => {
  it('embeds every view with one shared set of weights and aggregates over the present views', () => {
    const dense = tf.layers.dense({ units: 2, kernelInitializer: 'ones', useBias: false, name: 'shared' });
    let embedCalls = 0;
    const branch = buildMultiViewBranch({
      tf,
      views: 2,
      aggregation: 'mean',
      imageShape: [2, 2, 1],
      embed: (images) => {
        embedCalls++;
        return dense.apply(tf.layers.flatten().apply(images) as SymbolicTensor) as SymbolicTensor;
      },
      nextSeed: () => 0,
    });
    const model = tf.model({ inputs: branch.inputs, outputs: branch.v });
    expect(embedCalls).toBe(1);
    expect(model.trainableWeights.map((w) => w.originalName)).toEqual(['shared/kernel']);
    // View sums: case 0 views 4 and 8 (both present) -> mean 6; case 1 view 2 missing -> 1.
    const images = tf.tensor5d([[[[[1], [1]], [[1], [1]]], [[[2], [2]], [[2], [2]]]], [[[[0.25], [0.25]], [[0.25], [0.25]]], [[[9], [9]], [[9], [9]]]]]);
    expectClose(values(model.predict([images, tf.tensor2d([[1, 1], [1, 0]])]) as Tensor), [[6, 6], [1, 1]]);
  });
});

describe('per-view cross-entropy', () => {
  const viewProbs = () => tf.tensor3d([[[0.8, 0.2], [0.4, 0.6]], [[0.5, 0.5], [0.1, 0.9]]]);
  const y = () => tf.tensor2d([[1, 0], [0, 1]]);

  it('averages -log p(true class) over the present views of the batch', () => {
    const all = (perViewCrossEntropy(tf, viewProbs(), y(), tf.tensor2d([[1, 1], [1, 1]])) as Tensor).dataSync()[0]!;
    expect(all).toBeCloseTo(-(Math.log(0.8) + Math.log(0.4) + Math.log(0.5) + Math.log(0.9)) / 4, 5);
    const some = (perViewCrossEntropy(tf, viewProbs(), y(), tf.tensor2d([[1, 0], [0, 1]])) as Tensor).dataSync()[0]!;
    expect(some).toBeCloseTo(-(Math.log(0.8) + Math.log(0.9)) / 2, 5);
    expect((perViewCrossEntropy(tf, viewProbs(), y(), tf.tensor2d([[0, 0], [0, 0]])) as Tensor).dataSync()[0]).toBe(0);
  });

  it('adds weight x the per-view term to the classification loss, reading [label | view mask] targets', () => {
    const classification = (yTrue: Tensor, yPred: Tensor) => tf.mean(tf.sum(tf.mul(yTrue, yPred), -1));
    const targets = tf.tensor2d([[1, 0, 1, 0], [0, 1, 0, 1]]);
    const probs = tf.tensor2d([[0.3, 0.7], [0.6, 0.4]]);
    const total = multiViewObjective(tf, classification, 0.1, 2, 2)(targets, [probs, viewProbs()]).dataSync()[0]!;
    expect(total).toBeCloseTo((0.3 + 0.4) / 2 + 0.1 * (-(Math.log(0.8) + Math.log(0.9)) / 2), 5);
  });
});
