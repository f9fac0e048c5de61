import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs';
import type { ModelConfig } from '@medfusion/contracts';
import type { Tf } from './compute-backend.js';
import { buildImageBackbone } from './backbones/index.js';
import { FUSION_STRATEGIES, type FusionContext } from './fusion/index.js';

export interface FusionModelInputs {
  numClinical: number;
  /** Seed of the weight initialisers, so two runs with the same seed start from the same weights. */
  seed: number;
}

/**
 * Image branch: the backbone named by `cfg.backbone` (libs/training/src/backbones) -> pooled
 * features -> dense(imageFeatureSize) = v.
 * Clinical branch: values and their missing-value mask -> dense(clinicalHiddenSize) = t.
 * Then the fusion strategy named by `cfg.fusion` (libs/training/src/fusion) and, unless it is a
 * late-fusion strategy that predicts by itself, a softmax classifier on the fused representation.
 */
export function buildFusionModel(tf: Tf, cfg: ModelConfig, inputs: FusionModelInputs): LayersModel {
  let seed = inputs.seed;
  const nextSeed = () => seed++;
  const init = () => tf.initializers.glorotUniform({ seed: nextSeed() });
  const image = tf.input({ shape: [cfg.imageSize, cfg.imageSize, cfg.imageChannels], name: 'image' });
  const clinical = tf.input({ shape: [inputs.numClinical * 2], name: 'clinical' });

  const x = buildImageBackbone({ tf, cfg, input: image, init, nextSeed });
  const v = tf.layers
    .dense({ units: cfg.imageFeatureSize, activation: 'relu', kernelInitializer: init(), name: 'image_features' })
    .apply(x) as SymbolicTensor;
  const t = tf.layers
    .dense({ units: cfg.clinicalHiddenSize, activation: 'relu', kernelInitializer: init(), name: 'clinical_features' })
    .apply(clinical) as SymbolicTensor;

  const ctx: FusionContext = { tf, cfg, v, t, init, nextSeed };
  const fused = FUSION_STRATEGIES[cfg.fusion](ctx);
  const out =
    fused.kind === 'probabilities'
      ? fused.output
      : (tf.layers.dense({ units: cfg.numClasses, activation: 'softmax', kernelInitializer: init(), name: 'classifier' }).apply(fused.output) as SymbolicTensor);
  return tf.model({ inputs: [image, clinical], outputs: out, name: `fusion_${cfg.backbone}_${cfg.fusion}` });
}
