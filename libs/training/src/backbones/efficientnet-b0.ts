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
  scaledDepth,
  scaledWidth,
  type BackboneBuilder,
  type BackboneContext,
} from './backbone-context.js';

const P = 'image_efficientnet';

/** EfficientNet-B0's stage table (Tan & Le 2019, table 1): expansion, kernel, first stride, channels, repeats. */
const STAGES: ReadonlyArray<{ t: number; k: number; s: number; c: number; n: number }> = [
  { t: 1, k: 3, s: 1, c: 16, n: 1 },
  { t: 6, k: 3, s: 2, c: 24, n: 2 },
  { t: 6, k: 5, s: 2, c: 40, n: 2 },
  { t: 6, k: 3, s: 2, c: 80, n: 3 },
  { t: 6, k: 5, s: 1, c: 112, n: 3 },
  { t: 6, k: 5, s: 2, c: 192, n: 4 },
  { t: 6, k: 3, s: 1, c: 320, n: 1 },
];
const SE_RATIO = 0.25;

/**
 * Squeeze-and-excitation: global average pool -> 1x1 conv to max(1, input channels x 0.25) with
 * swish -> 1x1 conv back with sigmoid -> channel-wise scale of `x` (broadcast over H and W).
 */
function squeezeExcite(ctx: BackboneContext, x: SymbolicTensor, blockInput: number, name: string): SymbolicTensor {
  const { tf } = ctx;
  const c = channelsOf(x);
  let s = globalAveragePool(ctx, x, `${name}_se_squeeze`);
  s = tf.layers.reshape({ targetShape: [1, 1, c], name: `${name}_se_reshape` }).apply(s) as SymbolicTensor;
  s = conv(ctx, s, { filters: Math.max(1, Math.floor(blockInput * SE_RATIO)), kernel: 1, useBias: true, activation: 'swish', name: `${name}_se_reduce` });
  s = conv(ctx, s, { filters: c, kernel: 1, useBias: true, activation: 'sigmoid', name: `${name}_se_expand` });
  return tf.layers.multiply({ name: `${name}_se_scale` }).apply([x, s]) as SymbolicTensor;
}

/**
 * MBConv: 1x1 expansion -> BN -> swish (skipped when t = 1), depthwise kxk (stride) -> BN -> swish,
 * squeeze-and-excitation, 1x1 linear projection -> BN; identity added when stride 1 and same width.
 * The paper's stochastic depth (drop-connect 0.2) is left out: it needs a training-only random
 * layer, and the small data sets here are regularised by `dropout` in the fusion head instead.
 */
function mbConv(ctx: BackboneContext, x: SymbolicTensor, st: { t: number; k: number }, out: number, stride: number, name: string): SymbolicTensor {
  const inC = channelsOf(x);
  let h = x;
  if (st.t !== 1) h = convBn(ctx, h, { filters: inC * st.t, kernel: 1, name: `${name}_expand` }, 'swish');
  h = activation(ctx, batchNorm(ctx, depthwiseConv(ctx, h, st.k, stride, `${name}_dw`), `${name}_dw_bn`), 'swish', `${name}_dw_swish`);
  h = squeezeExcite(ctx, h, inC, name);
  h = convBn(ctx, h, { filters: out, kernel: 1, name: `${name}_project` }, null);
  return stride === 1 && inC === out ? add(ctx, x, h, `${name}_add`) : h;
}

/**
 * EfficientNet-B0: 3x3 stem (32), the seven MBConv stages, 1x1 head conv to 1280, global average
 * pool; channels x backboneWidth rounded to multiples of 8, repeats x backboneDepth. Below 128 px
 * the stem and/or the 24-channel stage keep stride 1 (stemReduction()).
 */
export const efficientNetB0: BackboneBuilder = (ctx) => {
  const { width, depth, imageSize } = ctx.options;
  const [stemStride, secondStride] = earlyStrides(imageSize);
  let x = convBn(ctx, ctx.input, { filters: scaledWidth(32, width, 8), kernel: 3, stride: stemStride, name: `${P}_stem_conv` }, 'swish');
  STAGES.forEach((st, s) => {
    const out = scaledWidth(st.c, width, 8);
    const firstStride = s === 1 ? secondStride : st.s;
    for (let b = 0; b < scaledDepth(st.n, depth); b++) {
      x = mbConv(ctx, x, st, out, b === 0 ? firstStride : 1, `${P}_stage${s + 1}_block${b + 1}`);
    }
  });
  x = convBn(ctx, x, { filters: scaledWidth(1280, width, 8), kernel: 1, name: `${P}_head_conv` }, 'swish');
  return globalAveragePool(ctx, x, `${P}_gap`);
};
