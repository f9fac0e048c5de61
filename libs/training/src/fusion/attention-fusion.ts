import type { SymbolicTensor } from '@tensorflow/tfjs';
import { ClsToken, MultiHeadAttention, SelectToken } from './attention-layers.js';
import { dense, dropout, type FusionContext, type FusionStrategy } from './fusion-context.js';

const HEADS = 4;

/** Splits an embedding into `groups` tokens, each projected to width D: B x F -> B x groups x D. */
export function tokens(ctx: FusionContext, x: SymbolicTensor, groups: number, name: string): SymbolicTensor {
  const width = x.shape[1] as number;
  if (width % groups !== 0) throw new Error(`${name}: embedding width ${width} is not divisible into ${groups} tokens`);
  const grouped = ctx.tf.layers.reshape({ targetShape: [groups, width / groups], name: `${name}_tokens` }).apply(x) as SymbolicTensor;
  return dense(ctx, ctx.cfg.fusedSize, `${name}_token_proj`).apply(grouped) as SymbolicTensor;
}

/** x + attention(x, context or x itself when null), then LayerNorm; a GELU feed-forward (4x) with residual and LayerNorm. */
function attentionBlock(ctx: FusionContext, x: SymbolicTensor, context: SymbolicTensor | null, name: string): SymbolicTensor {
  const { tf } = ctx;
  const D = ctx.cfg.fusedSize;
  const attended = new MultiHeadAttention({ heads: HEADS, units: D, seed: ctx.nextSeed(), name: `${name}_mha` }).apply(context ? [x, context] : x) as SymbolicTensor;
  const h = tf.layers.layerNormalization({ name: `${name}_ln1` }).apply(tf.layers.add({ name: `${name}_res1` }).apply([x, attended])) as SymbolicTensor;
  const ff = dense(ctx, D, `${name}_ff_out`).apply(dense(ctx, 4 * D, `${name}_ff_in`, 'gelu' as 'relu').apply(h)) as SymbolicTensor;
  return tf.layers.layerNormalization({ name: `${name}_ln2` }).apply(tf.layers.add({ name: `${name}_res2` }).apply([h, ff])) as SymbolicTensor;
}

/** The first token of B x N x D as B x D. */
function firstToken(x: SymbolicTensor, name: string): SymbolicTensor {
  return new SelectToken({ index: 0, name: `${name}_first` }).apply(x) as SymbolicTensor;
}

/** Mean over tokens of B x N x D as B x D. */
function meanToken(ctx: FusionContext, x: SymbolicTensor, name: string): SymbolicTensor {
  return ctx.tf.layers.globalAveragePooling1d({ name: `${name}_mean` }).apply(x) as SymbolicTensor;
}

/**
 * `attention`: three tokens [CLS, W_v v, W_t t] through multi-head self-attention (4 heads) with
 * residual + LayerNorm and a GELU feed-forward (4x) + LayerNorm; the CLS token is the output, so
 * the model learns per case how much to take from each modality.
 */
export const attentionFusion: FusionStrategy = (ctx) => {
  const both = ctx.tf.layers.concatenate({ axis: 1, name: 'fusion_modalities' }).apply([tokens(ctx, ctx.v, 1, 'fusion_image'), tokens(ctx, ctx.t, 1, 'fusion_clinical')]) as SymbolicTensor;
  const withCls = new ClsToken({ name: 'fusion_cls' }).apply(both) as SymbolicTensor;
  return { kind: 'fused', output: firstToken(attentionBlock(ctx, withCls, null, 'fusion_self'), 'fusion_cls') };
};

/** Tokens per modality for cross-attention: with one token each the attention would be trivial. */
export const CROSS_ATTENTION_TOKENS = 4;

/**
 * `cross_attention`: each embedding is split into 4 tokens; image tokens attend to clinical tokens
 * and clinical tokens to image tokens (each with residual + LayerNorm and a feed-forward); the two
 * results, averaged over tokens, are concatenated, then linear + ReLU + dropout.
 */
export const crossAttentionFusion: FusionStrategy = (ctx) => {
  const img = tokens(ctx, ctx.v, CROSS_ATTENTION_TOKENS, 'fusion_image');
  const clin = tokens(ctx, ctx.t, CROSS_ATTENTION_TOKENS, 'fusion_clinical');
  const imageToClinical = meanToken(ctx, attentionBlock(ctx, img, clin, 'fusion_i2c'), 'fusion_i2c');
  const clinicalToImage = meanToken(ctx, attentionBlock(ctx, clin, img, 'fusion_c2i'), 'fusion_c2i');
  const joined = ctx.tf.layers.concatenate({ name: 'fusion_concat' }).apply([imageToClinical, clinicalToImage]) as SymbolicTensor;
  let out = dense(ctx, ctx.cfg.fusedSize, 'fusion_dense', 'relu').apply(joined) as SymbolicTensor;
  out = dropout(ctx, out, 'fusion_dropout');
  return { kind: 'fused', output: out };
};
