import * as tf from '@tensorflow/tfjs';
import { AdamWOptimizer } from './adamw-optimizer.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/**
 * Two updates worked out by hand (lr 0.1, b1 0.9, b2 0.999, eps 1e-7, weight decay 0.01) on
 * w = [1, -2] with gradients [0.5, 0.1] then [-0.5, 0.3]:
 *   t=1: m = [0.05, 0.01], v = [2.5e-4, 1e-5], m^/sqrt(v^) = [1, 1] (up to eps)
 *        w = [1 - 0.1 (1 + 0.01), -2 - 0.1 (1 - 0.02)] = [0.899, -2.098]
 *   t=2: m = [-0.005, 0.039], v = [4.9975e-4, 9.999e-5], m^ = m / 0.19, v^ = v / 0.001999
 *        = [0.25, 0.050020010], m^/sqrt(v^) = [-0.0526316, 0.9177797]
 *        w = 0.899 - 0.1 (-0.0526316 + 0.00899) = 0.9033642; -2.098 - 0.1 (0.9177797 - 0.02098) = -2.1876800
 */
describe('AdamWOptimizer', () => {
  it('matches two hand-worked updates, decay decoupled from the gradient scaling', () => {
    const w = tf.variable(tf.tensor1d([1, -2]), true, 'adamw_spec_w');
    const opt = new AdamWOptimizer({ learningRate: 0.1, weightDecay: 0.01 });
    opt.applyGradients({ adamw_spec_w: tf.tensor1d([0.5, 0.1]) });
    const first = Array.from(w.dataSync());
    expect(first[0]).toBeCloseTo(0.899, 6);
    expect(first[1]).toBeCloseTo(-2.098, 6);
    opt.applyGradients({ adamw_spec_w: tf.tensor1d([-0.5, 0.3]) });
    const second = Array.from(w.dataSync());
    expect(second[0]).toBeCloseTo(0.9033642, 5);
    expect(second[1]).toBeCloseTo(-2.18768, 5);
    expect(opt.iterations).toBe(2);
    opt.dispose();
    w.dispose();
  });

  it('with weight decay 0 takes the same steps as TF.js Adam', () => {
    const a = tf.variable(tf.tensor1d([0.3, -0.7, 2]), true, 'adamw_spec_a');
    const b = tf.variable(tf.tensor1d([0.3, -0.7, 2]), true, 'adamw_spec_b');
    const adamw = new AdamWOptimizer({ learningRate: 0.05, weightDecay: 0 });
    const adam = tf.train.adam(0.05);
    for (const g of [[0.1, -0.2, 0.3], [1, 0.5, -0.25], [-0.4, 0.4, 0.01]]) {
      adamw.applyGradients({ adamw_spec_a: tf.tensor1d(g) });
      adam.applyGradients([{ name: 'adamw_spec_b', tensor: tf.tensor1d(g) }]);
    }
    Array.from(a.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(b.dataSync()[i]!, 5));
  });

  it('round-trips its state: a restored optimizer continues exactly like the original', async () => {
    const w1 = tf.variable(tf.tensor1d([1, -2]), true, 'adamw_spec_r1');
    const opt = new AdamWOptimizer({ learningRate: 0.1, weightDecay: 0.01 });
    opt.applyGradients({ adamw_spec_r1: tf.tensor1d([0.5, 0.1]) });
    const saved = (await opt.getWeights()).map((t) => ({ name: t.name, tensor: t.tensor.clone() }));
    expect(saved.map((t) => t.name)).toEqual(['iter', 'adamw_spec_r1/m', 'adamw_spec_r1/v']);

    // A fresh optimizer (as after a resume) with the same variable name.
    const restored = new AdamWOptimizer({ learningRate: 0.1, weightDecay: 0.01 });
    await restored.setWeights(saved);
    expect(restored.iterations).toBe(1);
    opt.applyGradients({ adamw_spec_r1: tf.tensor1d([-0.5, 0.3]) });
    const expected = Array.from(w1.dataSync());
    w1.assign(tf.tensor1d([0.899000019999996, -2.0979999000001]));
    restored.applyGradients({ adamw_spec_r1: tf.tensor1d([-0.5, 0.3]) });
    Array.from(w1.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    expect(expected[0]).toBeCloseTo(0.9033642, 5);
  });

  it('is registered for serialization under its own class name', () => {
    const opt = new AdamWOptimizer({ learningRate: 0.002, weightDecay: 0.05 });
    const registry = tf.serialization.SerializationMap.getMap().classNameMap;
    const [cls, fromConfig] = registry['MedFusionAdamW']!;
    const copy = fromConfig(cls, opt.getConfig()) as AdamWOptimizer;
    expect(copy).toBeInstanceOf(AdamWOptimizer);
    expect([copy.learningRate, copy.weightDecay, copy.beta1, copy.beta2, copy.epsilon]).toEqual([0.002, 0.05, 0.9, 0.999, 1e-7]);
  });

  it('names the variable when a gradient has no registered variable', () => {
    const opt = new AdamWOptimizer({ learningRate: 0.1, weightDecay: 0 });
    expect(() => opt.applyGradients({ no_such_variable: tf.tensor1d([1]) })).toThrow(/"no_such_variable"/);
  });
});
