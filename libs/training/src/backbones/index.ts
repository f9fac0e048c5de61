import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs';
import type { ImageBackbone, ModelConfig } from '@medfusion/contracts';
import type { Tf } from '../compute-backend.js';
import type { BackboneBuilder, BackboneContext, BackboneOptions } from './backbone-context.js';
import { densenet121 } from './densenet.js';
import { efficientNetB0 } from './efficientnet-b0.js';
import { mobilenetV2 } from './mobilenet-v2.js';
import { resnet18, resnet34 } from './resnet.js';
import { smallCnn } from './small-cnn.js';
import { vitTiny } from './vit.js';

export type { BackboneBuilder, BackboneContext, BackboneOptions } from './backbone-context.js';
export { scaledDepth, scaledWidth, stemReduction } from './backbone-context.js';
export { PositionEmbedding } from './vit-layers.js';
export { vitPatchSize } from './vit.js';

/** One builder per backbone the contract accepts: a name without a builder does not compile. */
export const IMAGE_BACKBONE_BUILDERS: Record<ImageBackbone, BackboneBuilder> = {
  small_cnn: smallCnn,
  resnet18,
  resnet34,
  mobilenet_v2: mobilenetV2,
  efficientnet_b0: efficientNetB0,
  densenet121,
  vit_tiny: vitTiny,
};

export function backboneOptions(cfg: ModelConfig): BackboneOptions {
  return {
    imageSize: cfg.imageSize,
    imageChannels: cfg.imageChannels,
    width: cfg.backboneWidth,
    depth: cfg.backboneDepth,
    patchSize: cfg.patchSize,
    convFilters: cfg.convFilters,
    gradientCheckpointing: cfg.gradientCheckpointing,
  };
}

/** Builds `cfg.backbone` on `input` and returns its pooled features (batch x channels). */
export function buildImageBackbone(ctx: Omit<BackboneContext, 'options'> & { cfg: ModelConfig }): SymbolicTensor {
  const { cfg, featureMapHook, ...rest } = ctx;
  if (!featureMapHook) return IMAGE_BACKBONE_BUILDERS[cfg.backbone]({ ...rest, options: backboneOptions(cfg) });
  let called = false;
  const hook = (map: SymbolicTensor) => ((called = true), featureMapHook(map));
  const features = IMAGE_BACKBONE_BUILDERS[cfg.backbone]({ ...rest, featureMapHook: hook, options: backboneOptions(cfg) });
  if (!called) throw new Error(`backbone "${cfg.backbone}" has no spatial feature map, so it cannot take attention supervision; use a convolutional backbone`);
  return features;
}

/** The backbone alone as a model (image -> pooled features), for cost tables and inspection. */
export function buildBackboneModel(tf: Tf, cfg: ModelConfig, seed = 0): LayersModel {
  let s = seed;
  const nextSeed = () => s++;
  const input = tf.input({ shape: [cfg.imageSize, cfg.imageSize, cfg.imageChannels], name: 'image' });
  const features = buildImageBackbone({ tf, cfg, input, init: () => tf.initializers.glorotUniform({ seed: nextSeed() }), nextSeed });
  return tf.model({ inputs: input, outputs: features, name: `backbone_${cfg.backbone}` });
}
