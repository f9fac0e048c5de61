import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs';
import type { ModelConfig } from '@medfusion/contracts';
import type { Tf } from './compute-backend.js';
import { buildImageBackbone } from './backbones/index.js';
import { buildClinicalEncoder } from './clinical-encoder.js';
import { FUSION_STRATEGIES, type FusionContext } from './fusion/index.js';
import { attentionSupervisionHead } from './attention-supervision/attention-head.js';
import { buildMultiViewBranch } from './multiview/multiview-branch.js';

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
  return buildFusionNetwork(tf, cfg, inputs).model;
}

/** Whether training adds a loss on a second output: attention supervision, or per-view predictions. */
export function hasAuxiliaryOutput(cfg: ModelConfig): boolean {
  return cfg.attentionSupervision !== undefined || (cfg.views.count > 1 && cfg.views.viewLossWeight > 0);
}

export interface FusionNetwork {
  /** The model to train, evaluate and save: inputs -> class probabilities. */
  model: LayersModel;
  /**
   * When the training loss needs more than the probabilities (hasAuxiliaryOutput), the same layers
   * with a second output, which the training step runs: the supervised map with attention
   * supervision (the spatial attention map for `mask`, the class activation maps for `cam`), else
   * the per-view probabilities of a multi-view model (B x V x K). Undefined otherwise.
   */
  supervised?: LayersModel;
}

/**
 * buildFusionModel's network, plus the training view attention supervision needs. With
 * `cfg.views.count` > 1 the image branch takes `image_views` (B x V x H x W x C) and `view_mask`
 * (B x V) instead of `image`, runs every view through the one backbone and aggregates (multiview/).
 */
export function buildFusionNetwork(tf: Tf, cfg: ModelConfig, inputs: FusionModelInputs): FusionNetwork {
  let seed = inputs.seed;
  const nextSeed = () => seed++;
  const init = () => tf.initializers.glorotUniform({ seed: nextSeed() });
  const clinical = tf.input({ shape: [inputs.numClinical * 2], name: 'clinical' });
  const cardinalities = inputs.categoricalCardinalities ?? [];
  // A third input only when there are categorical columns, so models without them keep two inputs.
  const categorical = cardinalities.length ? tf.input({ shape: [cardinalities.length], dtype: 'int32', name: 'clinical_categorical' }) : undefined;

  const supervision = cfg.attentionSupervision ? attentionSupervisionHead(tf, cfg.attentionSupervision.type, cfg.numClasses, nextSeed) : undefined;
  const embed = (input: SymbolicTensor): SymbolicTensor => {
    const x = buildImageBackbone({ tf, cfg, input, init, nextSeed, featureMapHook: supervision?.hook });
    return tf.layers.dense({ units: cfg.imageFeatureSize, activation: 'relu', kernelInitializer: init(), name: 'image_features' }).apply(x) as SymbolicTensor;
  };
  const imageShape: [number, number, number] = [cfg.imageSize, cfg.imageSize, cfg.imageChannels];
  let imageInputs: SymbolicTensor[];
  let v: SymbolicTensor;
  let perView: SymbolicTensor | undefined;
  if (cfg.views.count > 1) {
    ({ inputs: imageInputs, v, perView } = buildMultiViewBranch({ tf, views: cfg.views.count, aggregation: cfg.views.aggregation, imageShape, embed, nextSeed }));
  } else {
    const image = tf.input({ shape: imageShape, name: 'image' });
    imageInputs = [image];
    v = embed(image);
  }
  const t = buildClinicalEncoder({ tf, cfg, numeric: clinical, categorical, cardinalities, init, nextSeed });

  const ctx: FusionContext = { tf, cfg, v, t, init, nextSeed };
  const fused = FUSION_STRATEGIES[cfg.fusion](ctx);
  const out =
    fused.kind === 'probabilities'
      ? fused.output
      : (tf.layers.dense({ units: cfg.numClasses, activation: 'softmax', kernelInitializer: init(), name: 'classifier' }).apply(fused.output) as SymbolicTensor);
  const modelInputs = categorical ? [...imageInputs, clinical, categorical] : [...imageInputs, clinical];
  const name = `fusion_${cfg.backbone}_${cfg.fusion}`;
  const model = tf.model({ inputs: modelInputs, outputs: out, name });
  // Shares every layer (and so every weight) with `model`; only the output list differs.
  // Built last, so the weights of every other layer are those of a model without it.
  const auxiliary = supervision
    ? supervision.map()
    : perView && hasAuxiliaryOutput(cfg)
      ? (tf.layers.dense({ units: cfg.numClasses, activation: 'softmax', kernelInitializer: init(), name: 'view_classifier' }).apply(perView) as SymbolicTensor)
      : undefined;
  const supervised = auxiliary ? tf.model({ inputs: modelInputs, outputs: [out, auxiliary], name: `${name}_supervised` }) : undefined;
  return { model, supervised };
}
