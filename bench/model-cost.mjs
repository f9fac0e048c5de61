// Prints the parameter count and forward FLOPs (per example; 2 per multiply-add of convolutions,
// dense layers and attention) of every image backbone at its default width and depth, at 64x64 and
// 224x224, for docs/models.md. Run after `npm run build`:
//   node bench/model-cost.mjs [--channels 1|3] [--width W] [--depth D]
// Parameters are the trainable ones (as papers and PyTorch count them: batch norm's moving
// statistics are left out). The figures are the backbone alone (image -> pooled features), without the fusion model's
// dense(imageFeatureSize), clinical branch or head. Builds only: nothing is trained.
import * as tf from '@tensorflow/tfjs';
import { IMAGE_BACKBONES, modelConfigSchema } from '../libs/contracts/dist/index.js';
import { buildBackboneModel, modelCost } from '../libs/training/dist/index.js';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const channels = option('channels', 3);
const width = option('width', 1);
const depth = option('depth', 1);
const SIZES = [64, 224];

await tf.setBackend('cpu');
const fmtCount = (n) => n.toLocaleString('en-US');
const fmtFlops = (f) => (f >= 1e9 ? `${(f / 1e9).toFixed(2)} G` : `${(f / 1e6).toFixed(1)} M`);

console.log(`Image backbones at backboneWidth ${width}, backboneDepth ${depth}, ${channels} channel(s); FLOPs per image.\n`);
console.log(`| backbone | trainable parameters at 64 px | FLOPs at 64 px | trainable parameters at 224 px | FLOPs at 224 px | feature width |`);
console.log(`|---|---|---|---|---|---|`);
for (const backbone of IMAGE_BACKBONES) {
  const cells = [];
  let featureWidth = 0;
  for (const imageSize of SIZES) {
    const cfg = modelConfigSchema.parse({ backbone, imageSize, imageChannels: channels, backboneWidth: width, backboneDepth: depth });
    const model = buildBackboneModel(tf, cfg, 1);
    const cost = modelCost(model);
    featureWidth = model.outputs[0].shape[1];
    cells.push(fmtCount(cost.trainableParams), fmtFlops(cost.flops));
    model.dispose();
  }
  console.log(`| \`${backbone}\` | ${cells.join(' | ')} | ${featureWidth} |`);
}
