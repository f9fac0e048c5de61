import * as tf from '@tensorflow/tfjs';
import type { SymbolicTensor } from '@tensorflow/tfjs';
import { IMAGE_BACKBONES, modelConfigSchema, type ImageBackbone } from '@medfusion/contracts';
import { buildBackboneModel } from './backbones/index.js';
import { modelCost } from './model-cost.js';
import { RecomputeBlock, recomputeBlockOf } from './recompute.js';

type Layer = tf.layers.Layer;

// Training with these blocks runs in plain Node processes (test/gradient-checkpointing.test.ts);
// here only what building them decides.
describe('RecomputeBlock', () => {
  it('refuses layers that draw new random numbers on the re-run', () => {
    for (const layer of [tf.layers.dropout({ rate: 0.1, name: 'drop' }), tf.layers.gaussianNoise({ stddev: 0.1, name: 'noise' })]) {
      expect(() => new RecomputeBlock({ layers: [tf.layers.dense({ units: 2 }), layer], name: 'blk' })).toThrow(
        new RegExp(`RecomputeBlock "blk" holds ${layer.getClassName()} layer "${layer.name}", which draws new random numbers`),
      );
    }
  });

  it('refuses inputs that are not the block input or an earlier layer', () => {
    const layers = [tf.layers.dense({ units: 2 }), tf.layers.dense({ units: 2 })];
    expect(() => new RecomputeBlock({ layers, inbound: [[-1], [1]], name: 'blk' })).toThrow(/layer 1 .* reads \[1\]/);
    expect(() => new RecomputeBlock({ layers, inbound: [[-1]], name: 'blk' })).toThrow(/1 inbound lists for 2 layers/);
  });

  it('runs a graph of layers: a dense layer added back onto its input', () => {
    const dense = tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), name: 'd' });
    const block = new RecomputeBlock({ layers: [dense, tf.layers.add({ name: 'sum' })], inbound: [[-1], [-1, 0]], name: 'blk' });
    const x = tf.tensor2d([[1, 2, 3], [-1, 0, 4]]);
    const y = block.apply(x) as tf.Tensor;
    const expected = tf.add(x, dense.apply(x) as tf.Tensor);
    expect(Array.from(y.dataSync())).toEqual(Array.from(expected.dataSync()));
    expect(dense.weights.map((w) => w.originalName)).toEqual(['d/kernel', 'd/bias']);
  });

  it('recomputeBlockOf refuses a block that reads a tensor besides its input', () => {
    const input = tf.input({ shape: [4], name: 'in' });
    const x = tf.layers.dense({ units: 4, name: 'a' }).apply(input) as SymbolicTensor;
    const y = tf.layers.add({ name: 'skip_two' }).apply([tf.layers.dense({ units: 4, name: 'b' }).apply(x) as SymbolicTensor, input]) as SymbolicTensor;
    expect(() => recomputeBlockOf(x, y, 'blk')).toThrow(/block blk reads in.*, which is not its input/);
  });
});

const build = (backbone: ImageBackbone, gradientCheckpointing: boolean, depth = 0.1) =>
  buildBackboneModel(tf, modelConfigSchema.parse({ backbone, imageSize: 32, imageChannels: 3, backboneWidth: 0.0625, backboneDepth: depth, gradientCheckpointing }), 3);
const blocksOf = (model: tf.LayersModel) => model.layers.filter((l): l is RecomputeBlock => l instanceof RecomputeBlock);
const flat = (model: tf.LayersModel): Layer[] => model.layers.flatMap((l) => (l instanceof RecomputeBlock ? l.inner : [l]));

describe('modelConfig.gradientCheckpointing in the backbones', () => {
  it.each(IMAGE_BACKBONES)('%s: the same layers and weights, only grouped into blocks', (backbone) => {
    const [off, on] = [build(backbone, false), build(backbone, true)];
    expect(flat(on).map((l) => l.name).sort()).toEqual(off.layers.map((l) => l.name).sort());
    expect(on.weights.map((w) => w.originalName).sort()).toEqual(off.weights.map((w) => w.originalName).sort());
    expect(modelCost(on)).toEqual({ ...modelCost(off), layers: expect.arrayContaining(modelCost(off).layers) });
    expect(modelCost(on).layers).toHaveLength(modelCost(off).layers.length);
    for (const block of blocksOf(on)) expect(block.name).toMatch(/^image_[a-z0-9]+_.*_recompute$/);
    if (backbone === 'small_cnn') expect(blocksOf(on)).toEqual([]);
    [off, on].forEach((m) => m.dispose());
  });

  it('wraps whole blocks: shortcuts, projections, concatenations, squeeze-and-excitation, both ViT residuals', () => {
    const classes = (block: RecomputeBlock) => block.inner.map((l) => l.getClassName());
    const named = (model: tf.LayersModel, name: string) => blocksOf(model).find((b) => b.name === `${name}_recompute`)!;

    const resnet = build('resnet18', true);
    // Stage 1 keeps the width (identity shortcut), stage 2 projects with a strided 1x1 conv + BN; ReLU after the sum.
    expect(classes(named(resnet, 'image_resnet_stage1_block1'))).toEqual(['Conv2D', 'BatchNormalization', 'Activation', 'Conv2D', 'BatchNormalization', 'Add', 'Activation']);
    const projected = named(resnet, 'image_resnet_stage2_block1');
    expect(projected.inner.map((l) => l.name)).toEqual(expect.arrayContaining(['image_resnet_stage2_block1_proj', 'image_resnet_stage2_block1_proj_bn', 'image_resnet_stage2_block1_out']));
    // The sum reads the main path and the projection, both fed by the block input.
    const add = projected.inner.findIndex((l) => l.getClassName() === 'Add');
    expect(projected.inbound[add]!.map((j) => projected.inner[j]!.name)).toEqual(['image_resnet_stage2_block1_conv2_bn', 'image_resnet_stage2_block1_proj_bn']);

    const densenet = build('densenet121', true);
    const dense = named(densenet, 'image_densenet_block1_layer1');
    expect(classes(dense).at(-1)).toBe('Concatenate');
    expect(dense.inbound.at(-1)![0]).toBe(-1);
    expect(classes(named(densenet, 'image_densenet_transition1'))).toEqual(['BatchNormalization', 'Activation', 'Conv2D', 'AveragePooling2D']);

    const effnet = build('efficientnet_b0', true);
    expect(classes(named(effnet, 'image_efficientnet_stage1_block1'))).toEqual(expect.arrayContaining(['DepthwiseConv2D', 'GlobalAveragePooling2D', 'Reshape', 'Multiply', 'Add']));
    const mobilenet = build('mobilenet_v2', true);
    expect(classes(named(mobilenet, 'image_mobilenetv2_stage2_block1'))).toEqual(expect.arrayContaining(['DepthwiseConv2D', 'Add']));

    const vit = build('vit_tiny', true);
    const encoder = classes(named(vit, 'image_vit_block1'));
    expect(encoder.filter((c) => c === 'Add')).toHaveLength(2);
    expect(encoder).toEqual(expect.arrayContaining(['LayerNormalization', 'MedFusionMultiHeadAttention', 'Dense']));
    [resnet, densenet, effnet, mobilenet, vit].forEach((m) => m.dispose());
  });
});
