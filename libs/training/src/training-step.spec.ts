import * as tf from '@tensorflow/tfjs';
import type { LayersModel, SymbolicTensor, Tensor } from '@tensorflow/tfjs';
import { SeededDropout } from './seeded-dropout.js';
import { clipGradients, globalNorm, GradientStep } from './training-step.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const mse = (yTrue: Tensor, yPred: Tensor) => tf.mean(tf.square(tf.sub(yTrue, yPred)));

/** A small dense model without BatchNorm or dropout, identical for a given seed. */
function denseModel(seed: number): LayersModel {
  const input = tf.input({ shape: [3] });
  const h = tf.layers.dense({ units: 4, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed }) }).apply(input) as SymbolicTensor;
  const out = tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }).apply(h) as SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

function data(n: number): { x: number[][]; y: number[][] } {
  const x = Array.from({ length: n }, (_, i) => [Math.sin(i), Math.cos(2 * i), (i % 5) / 5]);
  return { x, y: x.map(([a, b, c]) => [a! * b!, b! - c!]) };
}

const weightsOf = (m: LayersModel) => m.getWeights().flatMap((w) => Array.from(w.dataSync()));

describe('GradientStep', () => {
  it.each([
    ['adam', [2, 2, 2, 2]],
    ['sgd', [3, 5]],
  ])('accumulating micro-batches (%s, sizes %j) equals one step on the whole batch', (opt, sizes) => {
    const { x, y } = data(8);
    const make = () => (opt === 'adam' ? tf.train.adam(0.05) : tf.train.momentum(0.1, 0.9));
    const whole = denseModel(7);
    const wholeStep = new GradientStep(tf, whole, make(), mse);
    const split = denseModel(7);
    const splitStep = new GradientStep(tf, split, make(), mse);
    for (let update = 0; update < 2; update++) {
      wholeStep.accumulate([tf.tensor2d(x)], tf.tensor2d(y));
      wholeStep.apply();
      let start = 0;
      for (const size of sizes) {
        splitStep.accumulate([tf.tensor2d(x.slice(start, start + size))], tf.tensor2d(y.slice(start, start + size)));
        start += size;
      }
      expect(splitStep.pending).toBe(sizes.length);
      splitStep.apply();
      expect(splitStep.pending).toBe(0);
    }
    const a = weightsOf(whole);
    const b = weightsOf(split);
    expect(a.some((v, i) => v !== weightsOf(denseModel(7))[i])).toBe(true);
    b.forEach((v, i) => expect(Math.abs(v - a[i]!)).toBeLessThan(1e-5));
  });

  it('clips the applied gradient to the global norm: plain SGD moves the weights by exactly lr x clipNorm', () => {
    const { x, y } = data(8);
    const model = denseModel(3);
    const before = weightsOf(model);
    const step = new GradientStep(tf, model, tf.train.sgd(1), mse, { clipNorm: 0.01 });
    step.accumulate([tf.tensor2d(x)], tf.tensor2d(y.map(([a, b]) => [a! * 100, b! * 100])));
    const norm = step.apply();
    expect(norm).toBeGreaterThan(0.01);
    const moved = Math.sqrt(weightsOf(model).reduce((s, v, i) => s + (v - before[i]!) ** 2, 0));
    expect(moved).toBeCloseTo(0.01, 5);
  });

  it('updates BatchNorm moving statistics during a step and uses dropout in training only', () => {
    const input = tf.input({ shape: [4] });
    const bn = tf.layers.batchNormalization({ momentum: 0.5, name: 'bn' });
    const h = bn.apply(input) as SymbolicTensor;
    const drop = new SeededDropout({ rate: 0.5, seed: 11, name: 'drop' });
    const out = tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.ones() }).apply(drop.apply(h) as SymbolicTensor) as SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    const x = tf.tensor2d([[1, 2, 3, 4], [3, 4, 5, 6]]);
    const movingMean = () => Array.from(bn.getWeights()[2]!.dataSync());
    expect(movingMean()).toEqual([0, 0, 0, 0]);
    const step = new GradientStep(tf, model, tf.train.sgd(0), mse);
    step.accumulate([x], tf.tensor2d([[0], [0]]));
    step.apply();
    // Batch means [2, 3, 4, 5]; moving = 0.5 x 0 + 0.5 x mean.
    expect(movingMean()).toEqual([1, 1.5, 2, 2.5]);

    // Inference is deterministic; training draws masks that depend on the step.
    const predict = () => Array.from((model.predict(x) as Tensor).dataSync());
    expect(predict()).toEqual(predict());
    const train = (s: number) => {
      drop.setStep(s);
      return Array.from((model.apply(x, { training: true }) as Tensor).dataSync());
    };
    expect(train(5)).toEqual(train(5));
    expect([1, 2, 3, 4, 6].some((s) => train(s).some((v, i) => v !== train(5)[i]))).toBe(true);
  });
});

describe('clipGradients', () => {
  const grads = () => ({ a: tf.tensor1d([3, -4]), b: tf.tensor1d([0, 12]) });

  it('measures the global norm over every tensor', () => {
    expect(globalNorm(tf, grads())).toBeCloseTo(13, 5);
  });

  it('scales everything by clipNorm / norm when the norm is above clipNorm, keeping the direction', () => {
    const { grads: out, norm } = clipGradients(tf, grads(), { clipNorm: 6.5 });
    expect(norm).toBeCloseTo(13, 5);
    expect(Array.from(out['a']!.dataSync())).toEqual([1.5, -2]);
    expect(Array.from(out['b']!.dataSync())).toEqual([0, 6]);
    expect(globalNorm(tf, out)).toBeCloseTo(6.5, 5);
  });

  it('leaves gradients below the bound alone', () => {
    const { grads: out } = clipGradients(tf, grads(), { clipNorm: 100 });
    expect(Array.from(out['b']!.dataSync())).toEqual([0, 12]);
  });

  it('clips elements by value before the norm', () => {
    const { grads: out } = clipGradients(tf, grads(), { clipValue: 3 });
    expect([...out['a']!.dataSync(), ...out['b']!.dataSync()]).toEqual([3, -3, 0, 3]);
    const both = clipGradients(tf, grads(), { clipValue: 3, clipNorm: Math.sqrt(27) / 3 });
    // After value clipping the norm is sqrt(27); the norm clip then divides by 3.
    expect(Array.from(both.grads['a']!.dataSync()).map((v) => Number(v.toFixed(5)))).toEqual([1, -1]);
  });
});
