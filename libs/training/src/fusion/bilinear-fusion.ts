import type { SymbolicTensor } from '@tensorflow/tfjs';
import { dense, normaliseAndDrop, type FusionStrategy } from './fusion-context.js';

/** Rank of the low-rank bilinear interaction. */
export const BILINEAR_RANK = 16;

/**
 * `bilinear`: low-rank bilinear pooling, Dropout(BatchNorm(P (U v * V t) + W_sv v + W_st t)): the
 * elementwise product of the two projections models every image x clinical interaction at rank 16,
 * and the linear terms keep each modality's own signal.
 */
export const bilinearFusion: FusionStrategy = (ctx) => {
  const D = ctx.cfg.fusedSize;
  const uv = dense(ctx, BILINEAR_RANK, 'fusion_u').apply(ctx.v) as SymbolicTensor;
  const vt = dense(ctx, BILINEAR_RANK, 'fusion_v').apply(ctx.t) as SymbolicTensor;
  const product = ctx.tf.layers.multiply({ name: 'fusion_interaction' }).apply([uv, vt]) as SymbolicTensor;
  const terms = [
    dense(ctx, D, 'fusion_p').apply(product) as SymbolicTensor,
    dense(ctx, D, 'fusion_image_linear').apply(ctx.v) as SymbolicTensor,
    dense(ctx, D, 'fusion_clinical_linear').apply(ctx.t) as SymbolicTensor,
  ];
  const sum = ctx.tf.layers.add({ name: 'fusion_sum' }).apply(terms) as SymbolicTensor;
  return { kind: 'fused', output: normaliseAndDrop(ctx, sum, 'fusion') };
};
