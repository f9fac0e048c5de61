import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs';
import type { ModelConfig } from '@medfusion/contracts';
import type { Tf } from './compute-backend.js';
import { buildImageBackbone } from './backbones/index.js';
import { buildClinicalEncoder } from './clinical-encoder.js';
import { FUSION_STRATEGIES, type FusionContext } from './fusion/index.js';

export interface FusionModelInputs {
  numClinical: number;
  /** Seed of the weight initialisers, so two runs with the same seed start from the same weights. */
  seed: number;
  /** Per categorical column, vocabulary size + 1 (index 0 = missing or unseen); none by default. */
  categoricalCardinalities?: number[];
}

/**
 * Image branch: the backbone named by `cfg.backbone` (libs/training/src/backbones) -> pooled
 * features -> dense(imageFeatureSize) = v.
 * Clinical branch (clinical-encoder.ts): values, their missing-value mask and embeddings of the
 * categorical columns -> MLP blocks (dense + BatchNorm + ReLU + dropout) = t.
 * Then the fusion strategy named by `cfg.fusion` (libs/training/src/fusion) and, unless it is a
 * late-fusion strategy that predicts by itself, a softmax classifier on the fused representation.
 */
export function buildFusionModel(tf: Tf, cfg: ModelConfig, inputs: FusionModelInputs): LayersModel {
  let seed = inputs.seed;
  const nextSeed = () => seed++;
  const init = () => tf.initializers.glorotUniform({ seed: nextSeed() });
  const image = tf.input({ shape: [cfg.imageSize, cfg.imageSize, cfg.imageChannels], name: 'image' });
  const clinical = tf.input({ shape: [inputs.numClinical * 2], name: 'clinical' });
  const cardinalities = inputs.categoricalCardinalities ?? [];
  // A third input only when there are categorical columns, so models without them keep two inputs.
  const categorical = cardinalities.length ? tf.input({ shape: [cardinalities.length], dtype: 'int32', name: 'clinical_categorical' }) : undefined;

  const x = buildImageBackbone({ tf, cfg, input: image, init, nextSeed });
  const v = tf.layers
    .dense({ units: cfg.imageFeatureSize, activation: 'relu', kernelInitializer: init(), name: 'image_features' })
    .apply(x) as SymbolicTensor;
  const t = buildClinicalEncoder({ tf, cfg, numeric: clinical, categorical, cardinalities, init, nextSeed });

  const ctx: FusionContext = { tf, cfg, v, t, init, nextSeed };
  const fused = FUSION_STRATEGIES[cfg.fusion](ctx);
  const out =
    fused.kind === 'probabilities'
      ? fused.output
      : (tf.layers.dense({ units: cfg.numClasses, activation: 'softmax', kernelInitializer: init(), name: 'classifier' }).apply(fused.output) as SymbolicTensor);
  return tf.model({ inputs: categorical ? [image, clinical, categorical] : [image, clinical], outputs: out, name: `fusion_${cfg.backbone}_${cfg.fusion}` });
}
