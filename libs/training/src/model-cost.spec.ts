import * as tf from '@tensorflow/tfjs';
import type { SymbolicTensor } from '@tensorflow/tfjs';
import { MultiHeadAttention } from './fusion/attention-layers.js';
import { modelCost } from './model-cost.js';

describe('modelCost', () => {
  it('counts convolution, depthwise, dense and attention FLOPs as hand-worked', () => {
    const image = tf.input({ shape: [8, 8, 2] });
    let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'c' }).apply(image) as SymbolicTensor;
    x = tf.layers.batchNormalization({ name: 'bn' }).apply(x) as SymbolicTensor;
    x = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', name: 'dw' }).apply(x) as SymbolicTensor;
    x = tf.layers.reshape({ targetShape: [16, 4] }).apply(x) as SymbolicTensor;
    x = tf.layers.dense({ units: 6, name: 'tok' }).apply(x) as SymbolicTensor;
    x = new MultiHeadAttention({ heads: 2, units: 6, seed: 1, name: 'mha' }).apply(x) as SymbolicTensor;
    x = tf.layers.globalAveragePooling1d({}).apply(x) as SymbolicTensor;
    const out = tf.layers.dense({ units: 3, name: 'head' }).apply(x) as SymbolicTensor;
    const cost = modelCost(tf.model({ inputs: image, outputs: out }));

    const byName = Object.fromEntries(cost.layers.map((l) => [l.name, l.flops]));
    expect(byName).toEqual({
      c: 2 * (8 * 8 * 4) * (3 * 3 * 2), // 9216: every output value is a 3x3x2 dot product
      dw: 2 * (4 * 4 * 4) * (3 * 3), // 1152: stride 2 -> 4x4 outputs, one 3x3 filter per channel
      tok: 2 * 16 * 4 * 6, // 768: a dense layer on 16 tokens
      mha: 2 * (4 * 16 * 6 * 6) + 2 * (2 * 16 * 16 * 6), // 4608 projections + 6144 for QK^T and AV
      head: 2 * 6 * 3, // 36
    });
    expect(cost.flops).toBe(9216 + 1152 + 768 + 10752 + 36);
    // Params: conv 3*3*2*4+4, BN 4*4, depthwise 3*3*4+4, tok 4*6+6, mha 4*6*6, head 6*3+3.
    expect(cost.params).toBe(76 + 16 + 40 + 30 + 144 + 21);
    expect(cost.trainableParams).toBe(cost.params - 8); // BN's moving mean and variance do not train
  });

  it('counts a shared layer once per call', () => {
    const a = tf.input({ shape: [5] });
    const b = tf.input({ shape: [5] });
    const shared = tf.layers.dense({ units: 2, name: 'shared' });
    const out = tf.layers.add({}).apply([shared.apply(a) as SymbolicTensor, shared.apply(b) as SymbolicTensor]) as SymbolicTensor;
    expect(modelCost(tf.model({ inputs: [a, b], outputs: out })).flops).toBe(2 * (2 * 5 * 2));
  });
});
