import type { SymbolicTensor } from '@tensorflow/tfjs';
import { poolFeatureMap, type BackboneBuilder } from './backbone-context.js';

/**
 * `small_cnn`: average-pool to about 32 px, then per `convFilters` entry a 3x3 convolution + ReLU +
 * 2x2 max-pool, then global average pooling. The first pooling keeps CPU training fast on large
 * inputs; it is part of the backbone's definition. Layer names and initialiser order are those of
 * the first release, so its saved models and checkpoints still load.
 */
export const smallCnn: BackboneBuilder = (ctx) => {
  const { tf, options } = ctx;
  let x: SymbolicTensor = ctx.input;
  const downsample = Math.max(1, Math.floor(options.imageSize / 32));
  if (downsample > 1) x = tf.layers.averagePooling2d({ poolSize: downsample, name: 'image_downsample' }).apply(x) as SymbolicTensor;
  options.convFilters.forEach((filters, i) => {
    x = tf.layers
      .conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: ctx.init(), name: `image_conv${i + 1}` })
      .apply(x) as SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 2, name: `image_pool${i + 1}` }).apply(x) as SymbolicTensor;
  });
  return poolFeatureMap(ctx, x, 'image_gap');
};
