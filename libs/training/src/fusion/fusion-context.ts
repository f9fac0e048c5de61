import type { SymbolicTensor, initializers } from '@tensorflow/tfjs';

type Initializer = ReturnType<typeof initializers.glorotUniform>;
import type { ModelConfig } from '@medfusion/contracts';
import type { Tf } from '../compute-backend.js';
import { SeededDropout } from '../seeded-dropout.js';

/** What every fusion strategy receives: both modality embeddings and what it needs to build layers. */
export interface FusionContext {
  tf: Tf;
  cfg: ModelConfig;
  /** Image embedding v (batch x imageFeatureSize). */
  v: SymbolicTensor;
  /** Clinical embedding t (batch x clinicalHiddenSize). */
  t: SymbolicTensor;
  /** A fresh seeded initializer per call, so runs with one seed start identically. */
  init(): Initializer;
  nextSeed(): number;
}

/**
 * A fusion strategy joins v and t. `fused` strategies return a D-wide representation for the
 * shared classifier head; `late` ones return class probabilities themselves.
 */
export type FusionResult = { kind: 'fused'; output: SymbolicTensor } | { kind: 'probabilities'; output: SymbolicTensor };

export type FusionStrategy = (ctx: FusionContext) => FusionResult;

/** Dense layer helper with a seeded initializer and a readable name. */
export function dense(ctx: FusionContext, units: number, name: string, activation?: 'relu' | 'tanh' | 'sigmoid' | 'softmax' | 'linear') {
  return ctx.tf.layers.dense({ units, activation, kernelInitializer: ctx.init(), name });
}

/**
 * Dropout(BatchNorm(x)): the regularised output shared by several strategies. Momentum 0.9 (PyTorch's
 * default, as in the reference framework): with Keras's 0.99 the moving statistics used at inference
 * lag far behind after the few hundred steps of a small medical data set, which leaves the ranking
 * (AUC) intact but the predicted classes (accuracy) badly miscalibrated.
 */
export function normaliseAndDrop(ctx: FusionContext, x: SymbolicTensor, name: string): SymbolicTensor {
  const bn = ctx.tf.layers.batchNormalization({ momentum: 0.9, name: `${name}_bn` }).apply(x) as SymbolicTensor;
  return dropout(ctx, bn, `${name}_dropout`);
}

/**
 * The head's dropout: a mask drawn from (seed, training step), not TF.js's seeded Dropout, which
 * draws the same mask on every step (see seeded-dropout.ts).
 */
export function dropout(ctx: FusionContext, x: SymbolicTensor, name: string): SymbolicTensor {
  return ctx.cfg.dropout > 0 ? (new SeededDropout({ rate: ctx.cfg.dropout, seed: ctx.nextSeed(), name }).apply(x) as SymbolicTensor) : x;
}
