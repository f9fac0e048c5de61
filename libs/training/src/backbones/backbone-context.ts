import type { SymbolicTensor, initializers } from '@tensorflow/tfjs';
import type { Tf } from '../compute-backend.js';
import { recomputeBlockOf } from '../recompute.js';

type Initializer = ReturnType<typeof initializers.glorotUniform>;

/** The parts of modelConfig an image backbone reads. */
export interface BackboneOptions {
  imageSize: number;
  imageChannels: 1 | 3;
  /** Channel (ViT: embedding width) multiplier; 1 = the paper's widths. */
  width: number;
  /** Multiplier on blocks per stage (ViT: encoder blocks). */
  depth: number;
  /** ViT patch size; undefined = derived from imageSize. */
  patchSize?: number;
  /** `small_cnn` only: filters per convolution block. */
  convFilters: readonly number[];
  /** Wrap each block in a RecomputeBlock (modelConfig.gradientCheckpointing). */
  gradientCheckpointing: boolean;
}

/** What every backbone builder receives. */
export interface BackboneContext {
  tf: Tf;
  /** The symbolic image input, batch x H x W x C. */
  input: SymbolicTensor;
  options: BackboneOptions;
  /** A fresh seeded Glorot-uniform initializer per call. */
  init(): Initializer;
  /** The next seed of the model's sequence, for initializers and layers that take a seed. */
  nextSeed(): number;
  /**
   * Called with the last spatial feature map (batch x h x w x channels) right before the global
   * pooling; the backbone pools what it returns. Attention supervision puts its spatial attention or
   * class activation maps here. Unset: the map is pooled as it is. Backbones without a spatial map
   * (ViT) never call it.
   */
  featureMapHook?(featureMap: SymbolicTensor): SymbolicTensor;
}

/** Builds an image backbone and returns its pooled features (batch x channels). */
export type BackboneBuilder = (ctx: BackboneContext) => SymbolicTensor;

export type Activation = 'relu' | 'relu6' | 'swish';

/** Blocks of a stage at depth multiplier `depth`: at least one, so every stage (and its downsampling) exists. */
export function scaledDepth(blocks: number, depth: number): number {
  return Math.max(1, Math.round(blocks * depth));
}

/**
 * Channels at width multiplier `width`, rounded to a multiple of `divisor` without losing more than
 * 10% (MobileNet's `make_divisible`, also used by EfficientNet); divisor 1 is plain rounding.
 */
export function scaledWidth(channels: number, width: number, divisor = 1): number {
  const v = channels * width;
  if (divisor === 1) return Math.max(1, Math.round(v));
  let rounded = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

/**
 * How much the stem downsamples. The ImageNet stems (stride-2 convolution then a stride-2 max-pool
 * or a second stride-2 stage) reduce 224 px to 56 before the first stage and a 32 px image to 1x1
 * at the end. So the early reduction shrinks with the input: 4 from 128 px up (the paper's stem), 2
 * from 64 px (stride-2 stem convolution, no max-pool / no second early stride), 1 below 64 px (a
 * stride-1 3x3 stem, as CIFAR ResNets do). The last stage then stays at least 4x4 for inputs of
 * 32 px and more.
 */
export function stemReduction(imageSize: number): 1 | 2 | 4 {
  if (imageSize >= 128) return 4;
  if (imageSize >= 64) return 2;
  return 1;
}

/** Strides of the stem convolution and of the second early downsampling step (max-pool or stage). */
export function earlyStrides(imageSize: number): [number, number] {
  const r = stemReduction(imageSize);
  return r === 4 ? [2, 2] : r === 2 ? [2, 1] : [1, 1];
}

/**
 * One backbone block, built by `body` on `x` as usual. With gradient checkpointing its layers then
 * move into a RecomputeBlock named `<name>_recompute`: the same layers, weight names and initial
 * weights, but in training only the block's input is kept and the rest is recomputed in the
 * backward pass.
 */
export function recomputable(ctx: BackboneContext, x: SymbolicTensor, name: string, body: (x: SymbolicTensor) => SymbolicTensor): SymbolicTensor {
  const y = body(x);
  return ctx.options.gradientCheckpointing ? recomputeBlockOf(x, y, `${name}_recompute`) : y;
}

export interface ConvSpec {
  filters: number;
  kernel: number;
  stride?: number;
  name: string;
  useBias?: boolean;
  activation?: 'sigmoid' | 'swish' | 'relu';
}

/** A 'same'-padded convolution, He-initialised from the model's seed (bias-free before BN by default). */
export function conv(ctx: BackboneContext, x: SymbolicTensor, s: ConvSpec): SymbolicTensor {
  return ctx.tf.layers
    .conv2d({
      filters: s.filters,
      kernelSize: s.kernel,
      strides: s.stride ?? 1,
      padding: 'same',
      useBias: s.useBias ?? false,
      activation: s.activation,
      kernelInitializer: ctx.tf.initializers.heNormal({ seed: ctx.nextSeed() }),
      name: s.name,
    })
    .apply(x) as SymbolicTensor;
}

/**
 * A depthwise kxk convolution (depth multiplier 1), through TF.js's standard layer. He
 * initialisation needs the fan-in of one filter (k x k); TF.js computes the fan-in of a depthwise
 * kernel [k, k, C, 1] as k x k x C, which shrinks the signal C-fold per layer until it vanishes,
 * and its fan-out is the k x k wanted here.
 */
export function depthwiseConv(ctx: BackboneContext, x: SymbolicTensor, kernel: number, stride: number, name: string): SymbolicTensor {
  return ctx.tf.layers
    .depthwiseConv2d({
      kernelSize: kernel,
      strides: stride,
      padding: 'same',
      useBias: false,
      depthwiseInitializer: ctx.tf.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'truncatedNormal', seed: ctx.nextSeed() }),
      name,
    })
    .apply(x) as SymbolicTensor;
}

/**
 * Batch normalisation with momentum 0.9 and epsilon 1e-5 (PyTorch's defaults, which the reference
 * architectures were trained with): with Keras's 0.99 the moving statistics lag far behind over the
 * few hundred steps of a small medical data set (see fusion-context.ts).
 */
export function batchNorm(ctx: BackboneContext, x: SymbolicTensor, name: string): SymbolicTensor {
  return ctx.tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5, name }).apply(x) as SymbolicTensor;
}

export function activation(ctx: BackboneContext, x: SymbolicTensor, fn: Activation, name: string): SymbolicTensor {
  return ctx.tf.layers.activation({ activation: fn, name }).apply(x) as SymbolicTensor;
}

/** conv -> BN -> activation (none: linear, as in bottleneck projections). */
export function convBn(ctx: BackboneContext, x: SymbolicTensor, s: ConvSpec, act: Activation | null): SymbolicTensor {
  const y = batchNorm(ctx, conv(ctx, x, s), `${s.name}_bn`);
  return act ? activation(ctx, y, act, `${s.name}_${act}`) : y;
}

export function add(ctx: BackboneContext, a: SymbolicTensor, b: SymbolicTensor, name: string): SymbolicTensor {
  return ctx.tf.layers.add({ name }).apply([a, b]) as SymbolicTensor;
}

export function globalAveragePool(ctx: BackboneContext, x: SymbolicTensor, name: string): SymbolicTensor {
  return ctx.tf.layers.globalAveragePooling2d({ name }).apply(x) as SymbolicTensor;
}

/** The backbone's final global pooling of its last feature map, through `ctx.featureMapHook` when set. */
export function poolFeatureMap(ctx: BackboneContext, x: SymbolicTensor, name: string): SymbolicTensor {
  return globalAveragePool(ctx, ctx.featureMapHook ? ctx.featureMapHook(x) : x, name);
}

/** Channels (last axis) of a symbolic tensor. */
export function channelsOf(x: SymbolicTensor): number {
  const c = x.shape[x.shape.length - 1];
  if (typeof c !== 'number') throw new Error(`tensor ${x.name} has no static channel count`);
  return c;
}
