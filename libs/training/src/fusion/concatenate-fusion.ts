import type { SymbolicTensor } from '@tensorflow/tfjs';
import { dense, normaliseAndDrop, type FusionStrategy } from './fusion-context.js';

/** `concatenate`: Dropout(BatchNorm(ReLU(W [v; t]))). */
export const concatenateFusion: FusionStrategy = (ctx) => {
  const joined = ctx.tf.layers.concatenate({ name: 'fusion_concat' }).apply([ctx.v, ctx.t]) as SymbolicTensor;
  const h = dense(ctx, ctx.cfg.fusedSize, 'fusion_dense', 'relu').apply(joined) as SymbolicTensor;
  return { kind: 'fused', output: normaliseAndDrop(ctx, h, 'fusion') };
};
