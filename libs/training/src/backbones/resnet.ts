import type { SymbolicTensor } from '@tensorflow/tfjs';
import {
  activation,
  add,
  channelsOf,
  conv,
  convBn,
  earlyStrides,
  poolFeatureMap,
  recomputable,
  scaledDepth,
  scaledWidth,
  batchNorm,
  type BackboneBuilder,
  type BackboneContext,
} from './backbone-context.js';

const P = 'image_resnet';
const STAGE_WIDTHS = [64, 128, 256, 512];

/**
 * Basic residual block (He et al. 2016): conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN, plus the
 * identity, or a 1x1 projection (conv + BN) when the stride or the width changes; then ReLU.
 */
function basicBlock(ctx: BackboneContext, x: SymbolicTensor, filters: number, stride: number, name: string): SymbolicTensor {
  const h = convBn(ctx, x, { filters, kernel: 3, stride, name: `${name}_conv1` }, 'relu');
  const y = convBn(ctx, h, { filters, kernel: 3, name: `${name}_conv2` }, null);
  const shortcut =
    stride !== 1 || channelsOf(x) !== filters ? batchNorm(ctx, conv(ctx, x, { filters, kernel: 1, stride, name: `${name}_proj` }), `${name}_proj_bn`) : x;
  return activation(ctx, add(ctx, y, shortcut, `${name}_add`), 'relu', `${name}_out`);
}

/**
 * ResNet with basic blocks: stem, four stages of widths 64/128/256/512 (x backboneWidth) whose
 * first block downsamples (except stage 1), global average pool. The stem follows stemReduction():
 * 7x7/2 conv + 3x3/2 max-pool from 128 px, 7x7/2 conv alone from 64 px, 3x3/1 conv below.
 */
function resnet(blocksPerStage: readonly number[]): BackboneBuilder {
  return (ctx) => {
    const { width, depth, imageSize } = ctx.options;
    const [stemStride, poolStride] = earlyStrides(imageSize);
    let x = convBn(ctx, ctx.input, { filters: scaledWidth(64, width), kernel: stemStride === 2 ? 7 : 3, stride: stemStride, name: `${P}_stem_conv` }, 'relu');
    if (poolStride === 2) x = ctx.tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: `${P}_stem_pool` }).apply(x) as SymbolicTensor;
    blocksPerStage.forEach((blocks, s) => {
      const filters = scaledWidth(STAGE_WIDTHS[s]!, width);
      for (let b = 0; b < scaledDepth(blocks, depth); b++) {
        const name = `${P}_stage${s + 1}_block${b + 1}`;
        x = recomputable(ctx, x, name, (h) => basicBlock(ctx, h, filters, b === 0 && s > 0 ? 2 : 1, name));
      }
    });
    return poolFeatureMap(ctx, x, `${P}_gap`);
  };
}

/** ResNet-18: basic blocks 2-2-2-2. */
export const resnet18: BackboneBuilder = resnet([2, 2, 2, 2]);
/** ResNet-34: basic blocks 3-4-6-3. */
export const resnet34: BackboneBuilder = resnet([3, 4, 6, 3]);
