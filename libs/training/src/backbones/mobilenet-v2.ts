import type { SymbolicTensor } from '@tensorflow/tfjs';
import {
  activation,
  add,
  batchNorm,
  channelsOf,
  convBn,
  depthwiseConv,
  earlyStrides,
  globalAveragePool,
  scaledDepth,
  scaledWidth,
  type BackboneBuilder,
  type BackboneContext,
} from './backbone-context.js';

const P = 'image_mobilenetv2';

/** The paper's table 2: expansion t, output channels c, repeats n, first stride s. */
const STAGES: ReadonlyArray<{ t: number; c: number; n: number; s: number }> = [
  { t: 1, c: 16, n: 1, s: 1 },
  { t: 6, c: 24, n: 2, s: 2 },
  { t: 6, c: 32, n: 3, s: 2 },
  { t: 6, c: 64, n: 4, s: 2 },
  { t: 6, c: 96, n: 3, s: 1 },
  { t: 6, c: 160, n: 3, s: 2 },
  { t: 6, c: 320, n: 1, s: 1 },
];

/**
 * Inverted residual (Sandler et al. 2018): 1x1 expansion (x t) -> BN -> ReLU6, depthwise 3x3
 * (stride) -> BN -> ReLU6, 1x1 linear projection -> BN (no activation: the linear bottleneck);
 * the input is added back when stride is 1 and the width is unchanged.
 */
function invertedResidual(ctx: BackboneContext, x: SymbolicTensor, expansion: number, out: number, stride: number, name: string): SymbolicTensor {
  const inC = channelsOf(x);
  let h = x;
  if (expansion !== 1) h = convBn(ctx, h, { filters: Math.round(inC * expansion), kernel: 1, name: `${name}_expand` }, 'relu6');
  h = activation(ctx, batchNorm(ctx, depthwiseConv(ctx, h, 3, stride, `${name}_dw`), `${name}_dw_bn`), 'relu6', `${name}_dw_relu6`);
  h = convBn(ctx, h, { filters: out, kernel: 1, name: `${name}_project` }, null);
  return stride === 1 && inC === out ? add(ctx, x, h, `${name}_add`) : h;
}

/**
 * MobileNetV2: 3x3 stem (32 x width), the seven inverted-residual stages, 1x1 conv to 1280
 * (scaled only for widths above 1, as in the paper), global average pool. Channels are rounded to
 * multiples of 8. Below 128 px the stem and/or the 24-channel stage keep stride 1 (stemReduction()).
 */
export const mobilenetV2: BackboneBuilder = (ctx) => {
  const { width, depth, imageSize } = ctx.options;
  const [stemStride, secondStride] = earlyStrides(imageSize);
  let x = convBn(ctx, ctx.input, { filters: scaledWidth(32, width, 8), kernel: 3, stride: stemStride, name: `${P}_stem_conv` }, 'relu6');
  STAGES.forEach((st, s) => {
    const out = scaledWidth(st.c, width, 8);
    const firstStride = s === 1 ? secondStride : st.s;
    for (let b = 0; b < scaledDepth(st.n, depth); b++) {
      x = invertedResidual(ctx, x, st.t, out, b === 0 ? firstStride : 1, `${P}_stage${s + 1}_block${b + 1}`);
    }
  });
  x = convBn(ctx, x, { filters: scaledWidth(1280, Math.max(1, width), 8), kernel: 1, name: `${P}_head_conv` }, 'relu6');
  return globalAveragePool(ctx, x, `${P}_gap`);
};
