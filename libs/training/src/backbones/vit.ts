import type { SymbolicTensor } from '@tensorflow/tfjs';
import { ClsToken, MultiHeadAttention, SelectToken } from '../fusion/attention-layers.js';
import { recomputable, scaledDepth, scaledWidth, type BackboneBuilder, type BackboneContext } from './backbone-context.js';
import { PositionEmbedding } from './vit-layers.js';

const P = 'image_vit';
/** ViT-tiny (DeiT-Ti): 3 heads of width 64 (embedding 192), 12 encoder blocks, MLP 4x. */
const HEADS = 3;
const HEAD_WIDTH = 64;
const BLOCKS = 12;
const MLP_RATIO = 4;

/** The ViT patch size: the configured one, else imageSize / 8 clamped to 4..16 (an 8x8 to 14x14 grid). */
export function vitPatchSize(imageSize: number, patchSize?: number): number {
  if (patchSize !== undefined) {
    if (patchSize > imageSize) throw new Error(`modelConfig.patchSize ${patchSize} is larger than modelConfig.imageSize ${imageSize}`);
    return patchSize;
  }
  return Math.min(16, Math.max(4, Math.floor(imageSize / 8)));
}

function layerNorm(ctx: BackboneContext, x: SymbolicTensor, name: string): SymbolicTensor {
  return ctx.tf.layers.layerNormalization({ epsilon: 1e-6, name }).apply(x) as SymbolicTensor;
}

/** Pre-norm encoder block: x + MHA(LN(x)), then x + MLP(LN(x)) with a GELU hidden layer of 4D. */
function encoderBlock(ctx: BackboneContext, x: SymbolicTensor, dim: number, name: string): SymbolicTensor {
  const { tf } = ctx;
  const attended = new MultiHeadAttention({ heads: HEADS, units: dim, seed: ctx.nextSeed(), name: `${name}_mha` }).apply(layerNorm(ctx, x, `${name}_ln1`)) as SymbolicTensor;
  const h = tf.layers.add({ name: `${name}_res1` }).apply([x, attended]) as SymbolicTensor;
  const hidden = tf.layers.dense({ units: MLP_RATIO * dim, activation: 'gelu', kernelInitializer: ctx.init(), name: `${name}_mlp_in` }).apply(layerNorm(ctx, h, `${name}_ln2`));
  const mlp = tf.layers.dense({ units: dim, kernelInitializer: ctx.init(), name: `${name}_mlp_out` }).apply(hidden) as SymbolicTensor;
  return tf.layers.add({ name: `${name}_res2` }).apply([h, mlp]) as SymbolicTensor;
}

/**
 * ViT-tiny (Dosovitskiy et al. 2021; DeiT-Ti widths): patch embedding as a convolution whose kernel
 * and stride are the patch size (pixels beyond the last whole patch are dropped), a learnable CLS
 * token, a learnable position embedding sized for the resulting grid + 1, pre-norm encoder blocks
 * (3 heads; width 192 x backboneWidth, kept divisible by the heads; 12 x backboneDepth blocks), a
 * final LayerNorm, and the CLS token as the image features. Attention projections have no biases
 * (the shared MultiHeadAttention layer); there is no dropout inside the encoder.
 */
export const vitTiny: BackboneBuilder = (ctx) => {
  const { tf, options } = ctx;
  const dim = HEADS * scaledWidth(HEAD_WIDTH, options.width);
  const patch = vitPatchSize(options.imageSize, options.patchSize);
  const grid = Math.floor(options.imageSize / patch);
  let x = tf.layers
    .conv2d({ filters: dim, kernelSize: patch, strides: patch, padding: 'valid', kernelInitializer: ctx.init(), name: `${P}_patch_embed` })
    .apply(ctx.input) as SymbolicTensor;
  x = tf.layers.reshape({ targetShape: [grid * grid, dim], name: `${P}_tokens` }).apply(x) as SymbolicTensor;
  x = new ClsToken({ name: `${P}_cls` }).apply(x) as SymbolicTensor;
  x = new PositionEmbedding({ seed: ctx.nextSeed(), name: `${P}_pos_embed` }).apply(x) as SymbolicTensor;
  for (let b = 0; b < scaledDepth(BLOCKS, options.depth); b++) {
    const name = `${P}_block${b + 1}`;
    x = recomputable(ctx, x, name, (h) => encoderBlock(ctx, h, dim, name));
  }
  x = layerNorm(ctx, x, `${P}_final_ln`);
  return new SelectToken({ index: 0, name: `${P}_cls_out` }).apply(x) as SymbolicTensor;
};
