#!/usr/bin/env node
// Cost and effect of multi-view inputs and attention supervision, against the one-view model
// measured in the same run: training samples/s (one sample = one case, whatever its view count),
// test AUC and, for attention supervision, how well the supervised map matches held-out lesion
// masks (mean Pearson correlation). Each configuration trains in this process, one after another.
// Usage: npm run build && node bench/multiview-attention.mjs [--cases 400] [--epochs 10] [--lr 0.005]
//          [--backend onnx-cpu|cpu] [--only cam] (configurations whose name starts so, plus the one-view reference)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { modelConfigSchema, trainingConfigSchema } from '../libs/contracts/dist/index.js';
import { generateSyntheticDataset, loadDataset } from '../libs/fusion/dist/index.js';
import { buildFusionNetwork, normalisedTrueClassCam, resizeMasks, runTrainingSession, selectComputeBackend } from '../libs/training/dist/index.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '400' },
    epochs: { type: 'string', default: '10' },
    lr: { type: 'string', default: '0.005' },
    backend: { type: 'string', default: 'onnx-cpu' },
    only: { type: 'string' },
  },
});
const SIZE = 32;
const { tf, label } = await selectComputeBackend(values.backend);
const dir = mkdtempSync(join(tmpdir(), 'mf-multiview-bench-'));
await generateSyntheticDataset({ outDir: dir, numCases: Number(values.cases), seed: 13, imageSize: SIZE, views: 2, masks: true });
const read = { imageColumn: 'image', labelColumn: 'label', splitColumn: 'split', imageSize: SIZE, imageChannels: 1 };
// Attention supervision reads a set without second views, so every first view shows its lesion.
const masksDir = join(dir, 'masks-only');
await generateSyntheticDataset({ outDir: masksDir, numCases: Number(values.cases), seed: 13, imageSize: SIZE, masks: true });
const oneView = await loadDataset(masksDir, { ...read, maskColumn: 'mask' });
const twoViews = await loadDataset(dir, { ...read, viewColumns: ['image', 'view_2'] });
const trainingConfig = trainingConfigSchema.parse({ epochs: Number(values.epochs), batchSize: 16, learningRate: Number(values.lr), seed: 4 });
const base = { imageSize: SIZE, dropout: 0 };

/** Mean Pearson correlation between the supervised map and the test masks, over rows with a non-empty mask. */
function maskCorrelation(modelConfig, data, checkpoint) {
  const { supervised } = buildFusionNetwork(tf, modelConfig, { numClinical: data.clinicalColumns.length, seed: trainingConfig.seed });
  const byName = new Map(checkpoint.weights.map((w) => [w.name, w]));
  supervised.setWeights(supervised.weights.map((w) => tf.tensor(byName.get(w.originalName).data, byName.get(w.originalName).shape)));
  const t = data.test;
  const px = SIZE * SIZE;
  const rows = [];
  for (let k = 0; k < t.count; k++) if (t.hasRegionMask[k] && t.regionMasks.subarray(k * px, (k + 1) * px).some((v) => v > 0)) rows.push(k);
  const pick = (arr, per) => { const out = new Float32Array(rows.length * per); rows.forEach((k, b) => out.set(arr.subarray(k * per, (k + 1) * per), b * per)); return out; };
  const F = t.clinical.length / t.count;
  const clinical = new Float32Array(rows.length * 2 * F);
  rows.forEach((k, b) => { clinical.set(t.clinical.subarray(k * F, (k + 1) * F), b * 2 * F); clinical.set(t.clinicalMask.subarray(k * F, (k + 1) * F), b * 2 * F + F); });
  const [, map] = supervised.predict([tf.tensor4d(pick(t.images, px), [rows.length, SIZE, SIZE, 1]), tf.tensor2d(clinical, [rows.length, 2 * F])]);
  const [, h, w] = map.shape;
  const masks = resizeMasks(tf, tf.tensor4d(pick(t.regionMasks, px), [rows.length, SIZE, SIZE, 1]), h, w).reshape([rows.length, h * w]);
  const y = tf.oneHot(tf.tensor1d(Int32Array.from(rows, (k) => t.labels[k]), 'int32'), 2);
  const a = (modelConfig.attentionSupervision.type === 'mask' ? map : normalisedTrueClassCam(tf, map, y)).reshape([rows.length, h * w]);
  const c = (x) => tf.sub(x, tf.mean(x, 1, true));
  const r = tf.div(tf.sum(tf.mul(c(a), c(masks)), 1), tf.add(tf.sqrt(tf.mul(tf.sum(tf.square(c(a)), 1), tf.sum(tf.square(c(masks)), 1))), 1e-8));
  return tf.mean(r).dataSync()[0];
}

const runs = [
  ['one view', base, oneView],
  ['2 views, mean', { ...base, views: { count: 2, aggregation: 'mean' } }, twoViews],
  ['2 views, attention', { ...base, views: { count: 2, aggregation: 'attention' } }, twoViews],
  ['2 views, cross_attention', { ...base, views: { count: 2, aggregation: 'cross_attention' } }, twoViews],
  ['mask supervision, weight 0', { ...base, attentionSupervision: { type: 'mask', weight: 0 } }, oneView],
  ['mask supervision, weight 1', { ...base, attentionSupervision: { type: 'mask', weight: 1 } }, oneView],
  ['cam supervision, weight 0', { ...base, attentionSupervision: { type: 'cam', weight: 0 } }, oneView],
  ['cam supervision, weight 1', { ...base, attentionSupervision: { type: 'cam', weight: 1 } }, oneView],
];
console.log(`synthetic: ${values.cases} cases, 32 px, second view and lesion masks; small_cnn [4, 8]; ${values.epochs} epochs, batch 16, Adam ${values.lr}; backend ${label}`);
console.log('configuration                 samples/s  vs one view  test AUC  map-mask r');
let reference;
for (const [name, cfg, data] of runs.filter(([n]) => !values.only || n === 'one view' || n.startsWith(values.only))) {
  const modelConfig = modelConfigSchema.parse(cfg);
  const rates = [];
  let checkpoint;
  const outcome = await runTrainingSession({
    tf, modelConfig, data, trainingConfig,
    control: () => 'none', onStep: () => {}, onEpoch: async (e) => void rates.push(e.samplesPerSecond),
    saveCheckpoint: async (c) => void (checkpoint = c),
  });
  // The first epoch includes kernel and session warm-up: the rest is the steady rate.
  const steady = rates.slice(1);
  const rate = steady.reduce((a, b) => a + b, 0) / Math.max(steady.length, 1);
  reference ??= rate;
  const r = modelConfig.attentionSupervision ? maskCorrelation(modelConfig, data, checkpoint).toFixed(2) : '';
  console.log(`${name.padEnd(29)} ${rate.toFixed(1).padStart(9)}  ${(rate / reference).toFixed(2).padStart(11)}  ${outcome.test.auc.toFixed(3).padStart(8)}  ${r.padStart(10)}`);
  outcome.model.dispose();
}
rmSync(dir, { recursive: true, force: true });
