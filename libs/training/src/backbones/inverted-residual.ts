import type { SymbolicTensor } from '@tensorflow/tfjs';
import {
  activation,
  add,
  batchNorm,
  channelsOf,
  conv,
  convBn,
  depthwiseConv,
  earlyStrides,
  globalAveragePool,
  poolFeatureMap,
  recomputable,
  scaledDepth,
  scaledWidth,
  type Activation,
  type BackboneContext,
} from './backbone-context.js';

/** One row of a MobileNetV2 / EfficientNet stage table: expansion, kernel, first stride, channels, repeats. */
export interface InvertedResidualStage {
  t: number;
  k: number;
  s: number;
  c: number;
  n: number;
}

export interface InvertedResidualNetwork {
  /** Layer-name prefix, e.g. `image_mobilenetv2`. */
  prefix: string;
  activation: Activation;
  /** Squeeze-and-excitation width as a fraction of each block's input channels; 0 = none. */
  seRatio: number;
  stages: readonly InvertedResidualStage[];
  /** Channels of the 1x1 head convolution, already scaled for the width. */
  headChannels: number;
}

/**
 * Squeeze-and-excitation: global average pool -> 1x1 conv to max(1, floor(input channels x ratio))
 * with the block's activation -> 1x1 conv back with sigmoid -> channel-wise scale of `x`.
 */
function squeezeExcite(ctx: BackboneContext, x: SymbolicTensor, blockInput: number, net: InvertedResidualNetwork, name: string): SymbolicTensor {
  const { tf } = ctx;
  const c = channelsOf(x);
  let s = globalAveragePool(ctx, x, `${name}_se_squeeze`);
  s = tf.layers.reshape({ targetShape: [1, 1, c], name: `${name}_se_reshape` }).apply(s) as SymbolicTensor;
  const reduced = Math.max(1, Math.floor(blockInput * net.seRatio));
  s = conv(ctx, s, { filters: reduced, kernel: 1, useBias: true, activation: net.activation === 'swish' ? 'swish' : 'relu', name: `${name}_se_reduce` });
  s = conv(ctx, s, { filters: c, kernel: 1, useBias: true, activation: 'sigmoid', name: `${name}_se_expand` });
  return tf.layers.multiply({ name: `${name}_se_scale` }).apply([x, s]) as SymbolicTensor;
}

/**
 * Inverted residual / MBConv: 1x1 expansion x t -> BN -> activation (skipped when t = 1), depthwise
 * kxk (stride) -> BN -> activation, optional squeeze-and-excitation, 1x1 linear projection -> BN
 * (no activation: the linear bottleneck); the input is added back when stride is 1 and the width
 * is unchanged.
 */
function block(ctx: BackboneContext, x: SymbolicTensor, net: InvertedResidualNetwork, st: InvertedResidualStage, out: number, stride: number, name: string): SymbolicTensor {
  const inC = channelsOf(x);
  let h = x;
  if (st.t !== 1) h = convBn(ctx, h, { filters: Math.round(inC * st.t), kernel: 1, name: `${name}_expand` }, net.activation);
  h = activation(ctx, batchNorm(ctx, depthwiseConv(ctx, h, st.k, stride, `${name}_dw`), `${name}_dw_bn`), net.activation, `${name}_dw_${net.activation}`);
  if (net.seRatio > 0) h = squeezeExcite(ctx, h, inC, net, name);
  h = convBn(ctx, h, { filters: out, kernel: 1, name: `${name}_project` }, null);
  return stride === 1 && inC === out ? add(ctx, x, h, `${name}_add`) : h;
}

/**
 * 3x3 stem (32 channels x width), the stage table (channels x width rounded to multiples of 8,
 * repeats x depth), 1x1 head convolution, global average pool. The stem and the second stage take
 * the early strides of earlyStrides(), so below 128 px one or both keep stride 1.
 */
export function invertedResidualNetwork(ctx: BackboneContext, net: InvertedResidualNetwork): SymbolicTensor {
  const { width, depth, imageSize } = ctx.options;
  const P = net.prefix;
  const [stemStride, secondStride] = earlyStrides(imageSize);
  let x = convBn(ctx, ctx.input, { filters: scaledWidth(32, width, 8), kernel: 3, stride: stemStride, name: `${P}_stem_conv` }, net.activation);
  net.stages.forEach((st, s) => {
    const out = scaledWidth(st.c, width, 8);
    const firstStride = s === 1 ? secondStride : st.s;
    for (let b = 0; b < scaledDepth(st.n, depth); b++) {
      const name = `${P}_stage${s + 1}_block${b + 1}`;
      x = recomputable(ctx, x, name, (h) => block(ctx, h, net, st, out, b === 0 ? firstStride : 1, name));
    }
  });
  x = convBn(ctx, x, { filters: net.headChannels, kernel: 1, name: `${P}_head_conv` }, net.activation);
  return poolFeatureMap(ctx, x, `${P}_gap`);
}
