import type { SymbolicTensor } from '@tensorflow/tfjs';
import {
  activation,
  batchNorm,
  channelsOf,
  conv,
  convBn,
  earlyStrides,
  poolFeatureMap,
  recomputable,
  scaledDepth,
  scaledWidth,
  type BackboneBuilder,
  type BackboneContext,
} from './backbone-context.js';

const P = 'image_densenet';
/** DenseNet-121: dense layers per block, growth rate, bottleneck width (x growth), transition compression. */
const BLOCKS = [6, 12, 24, 16];
const GROWTH = 32;
const BOTTLENECK = 4;
const COMPRESSION = 0.5;

/** BN -> ReLU -> conv (the pre-activation order DenseNet uses everywhere after the stem). */
function bnReluConv(ctx: BackboneContext, x: SymbolicTensor, filters: number, kernel: number, name: string): SymbolicTensor {
  return conv(ctx, activation(ctx, batchNorm(ctx, x, `${name}_bn`), 'relu', `${name}_relu`), { filters, kernel, name: `${name}_conv` });
}

/** One dense layer: BN-ReLU-conv1x1(4k) -> BN-ReLU-conv3x3(k), concatenated onto its input. */
function denseLayer(ctx: BackboneContext, x: SymbolicTensor, growth: number, name: string): SymbolicTensor {
  const h = bnReluConv(ctx, bnReluConv(ctx, x, BOTTLENECK * growth, 1, `${name}_1`), growth, 3, `${name}_2`);
  return ctx.tf.layers.concatenate({ name: `${name}_concat` }).apply([x, h]) as SymbolicTensor;
}

/** Transition: BN-ReLU-conv1x1 to half the channels, then 2x2 average pool (stride 2). */
function transition(ctx: BackboneContext, x: SymbolicTensor, name: string): SymbolicTensor {
  const h = bnReluConv(ctx, x, Math.floor(channelsOf(x) * COMPRESSION), 1, name);
  return ctx.tf.layers.averagePooling2d({ poolSize: 2, strides: 2, name: `${name}_pool` }).apply(h) as SymbolicTensor;
}

/**
 * DenseNet-121 (Huang et al. 2017, DenseNet-BC): stem conv to 2k channels (+ 3x3/2 max-pool from
 * 128 px, as stemReduction() says), dense blocks of 6/12/24/16 layers with growth k = 32 x width,
 * transitions with compression 0.5 between them, final BN + ReLU, global average pool.
 */
export const densenet121: BackboneBuilder = (ctx) => {
  const { width, depth, imageSize } = ctx.options;
  const growth = scaledWidth(GROWTH, width);
  const [stemStride, poolStride] = earlyStrides(imageSize);
  let x = convBn(ctx, ctx.input, { filters: 2 * growth, kernel: stemStride === 2 ? 7 : 3, stride: stemStride, name: `${P}_stem_conv` }, 'relu');
  if (poolStride === 2) x = ctx.tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: `${P}_stem_pool` }).apply(x) as SymbolicTensor;
  BLOCKS.forEach((layers, b) => {
    for (let l = 0; l < scaledDepth(layers, depth); l++) {
      const name = `${P}_block${b + 1}_layer${l + 1}`;
      x = recomputable(ctx, x, name, (h) => denseLayer(ctx, h, growth, name));
    }
    const name = `${P}_transition${b + 1}`;
    if (b < BLOCKS.length - 1) x = recomputable(ctx, x, name, (h) => transition(ctx, h, name));
  });
  x = activation(ctx, batchNorm(ctx, x, `${P}_final_bn`), 'relu', `${P}_final_relu`);
  return poolFeatureMap(ctx, x, `${P}_gap`);
};
