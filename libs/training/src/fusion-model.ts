import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs';
import type { ModelConfig } from '@medfusion/contracts';
import type { Tf } from './compute-backend.js';

export interface FusionModelInputs {
  numClinical: number;
  /** Seed of the weight initialisers, so two runs with the same seed start from the same weights. */
  seed: number;
}

/**
 * The `small_cnn` image branch and an MLP clinical branch joined by concatenation:
 * image -> average-pool to about 32 px -> [conv 3x3 + ReLU + max-pool 2] per `convFilters` entry
 * -> global average pool -> dense(imageFeatureSize); clinical values and their missing-value mask
 * -> dense(clinicalHiddenSize); concat -> dense(fusedSize) -> dropout -> dense(numClasses, softmax).
 * The first pooling keeps CPU training fast on large inputs; it is part of the backbone's definition.
 */
export function buildFusionModel(tf: Tf, cfg: ModelConfig, inputs: FusionModelInputs): LayersModel {
  let seed = inputs.seed;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const image = tf.input({ shape: [cfg.imageSize, cfg.imageSize, cfg.imageChannels], name: 'image' });
  const clinical = tf.input({ shape: [inputs.numClinical * 2], name: 'clinical' });

  let x: SymbolicTensor = image;
  const downsample = Math.max(1, Math.floor(cfg.imageSize / 32));
  if (downsample > 1) x = tf.layers.averagePooling2d({ poolSize: downsample, name: 'image_downsample' }).apply(x) as SymbolicTensor;
  cfg.convFilters.forEach((filters, i) => {
    x = tf.layers
      .conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(), name: `image_conv${i + 1}` })
      .apply(x) as SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 2, name: `image_pool${i + 1}` }).apply(x) as SymbolicTensor;
  });
  x = tf.layers.globalAveragePooling2d({ name: 'image_gap' }).apply(x) as SymbolicTensor;
  const v = tf.layers
    .dense({ units: cfg.imageFeatureSize, activation: 'relu', kernelInitializer: init(), name: 'image_features' })
    .apply(x) as SymbolicTensor;

  const t = tf.layers
    .dense({ units: cfg.clinicalHiddenSize, activation: 'relu', kernelInitializer: init(), name: 'clinical_features' })
    .apply(clinical) as SymbolicTensor;

  let z = tf.layers.concatenate({ name: 'fusion_concat' }).apply([v, t]) as SymbolicTensor;
  z = tf.layers.dense({ units: cfg.fusedSize, activation: 'relu', kernelInitializer: init(), name: 'fusion_dense' }).apply(z) as SymbolicTensor;
  if (cfg.dropout > 0) z = tf.layers.dropout({ rate: cfg.dropout, seed: seed++, name: 'fusion_dropout' }).apply(z) as SymbolicTensor;
  const out = tf.layers
    .dense({ units: cfg.numClasses, activation: 'softmax', kernelInitializer: init(), name: 'classifier' })
    .apply(z) as SymbolicTensor;
  return tf.model({ inputs: [image, clinical], outputs: out, name: `fusion_${cfg.backbone}_${cfg.fusion}` });
}
