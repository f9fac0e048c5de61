import type { SymbolicTensor } from '@tensorflow/tfjs';
import { dense, type FusionStrategy } from './fusion-context.js';

/** `late`: a classifier per modality, their class probabilities averaged (a baseline). */
export const lateFusion: FusionStrategy = (ctx) => {
  const K = ctx.cfg.numClasses;
  const pImage = dense(ctx, K, 'late_image_classifier', 'softmax').apply(ctx.v) as SymbolicTensor;
  const pClinical = dense(ctx, K, 'late_clinical_classifier', 'softmax').apply(ctx.t) as SymbolicTensor;
  return { kind: 'probabilities', output: ctx.tf.layers.average({ name: 'late_average' }).apply([pImage, pClinical]) as SymbolicTensor };
};

/** `image_only`: a baseline that ignores the clinical data (it still loads, unused). */
export const imageOnly: FusionStrategy = (ctx) => ({ kind: 'fused', output: dense(ctx, ctx.cfg.fusedSize, 'fusion_dense', 'relu').apply(ctx.v) as SymbolicTensor });

/** `clinical_only`: a baseline that ignores the image. */
export const clinicalOnly: FusionStrategy = (ctx) => ({ kind: 'fused', output: dense(ctx, ctx.cfg.fusedSize, 'fusion_dense', 'relu').apply(ctx.t) as SymbolicTensor });
