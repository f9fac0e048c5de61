import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset, type Split } from './dataset-loader.js';
import { generateSyntheticDataset } from './synthetic-dataset.js';

/**
 * The synthetic label must need both modalities. A plain logistic regression on hand-made image
 * features (lesion area and brightness read off the pixels) plus the clinical columns must reach a
 * test AUC of 0.85, and the same model fed one modality must fall clearly short of it.
 */
const { exp, sqrt } = Math; // module-level: global lookups are slow in Jest's sandbox
const SIZE = 64;
const dir = mkdtempSync(join(tmpdir(), 'mf-signal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** sqrt(area) and mean intensity of the pixels above the background (the darkest lesion is 0.40, background 0.12 +- 0.04). */
function imageFeatures(s: Split, i: number): number[] {
  const px = s.images.subarray(i * SIZE * SIZE, (i + 1) * SIZE * SIZE);
  let area = 0;
  let sum = 0;
  for (let k = 0; k < px.length; k++) {
    if (px[k]! > 0.3) {
      area++;
      sum += px[k]!;
    }
  }
  return [sqrt(area), area ? sum / area : 0];
}

type Modality = 'both' | 'image' | 'clinical';

function features(s: Split, F: number, use: Modality): number[][] {
  return Array.from({ length: s.count }, (_, i) => [
    ...(use !== 'clinical' ? imageFeatures(s, i) : []),
    ...(use !== 'image' ? Array.from(s.clinical.subarray(i * F, (i + 1) * F)) : []),
  ]);
}

/** Mann-Whitney: the share of (positive, negative) pairs that the scores order correctly. */
function auc(scores: number[], labels: Int32Array): number {
  let pairs = 0;
  let wins = 0;
  scores.forEach((p, i) => scores.forEach((q, j) => {
    if (labels[i] === 1 && labels[j] === 0) {
      pairs++;
      wins += p > q ? 1 : p === q ? 0.5 : 0;
    }
  }));
  return wins / pairs;
}

/** Full-batch gradient descent on the log loss over z-scored features; returns the test logits. */
function fitAndScore(train: number[][], y: Int32Array, test: number[][]): number[] {
  const d = train[0]!.length;
  const mean = Array.from({ length: d }, (_, k) => train.reduce((a, r) => a + r[k]!, 0) / train.length);
  const sd = Array.from({ length: d }, (_, k) => sqrt(train.reduce((a, r) => a + (r[k]! - mean[k]!) ** 2, 0) / train.length) || 1);
  const z = (r: number[]) => r.map((v, k) => (v - mean[k]!) / sd[k]!);
  const X = train.map(z);
  const w = new Float64Array(d + 1);
  const logit = (r: number[]) => r.reduce((a, v, k) => a + v * w[k]!, w[d]!);
  for (let step = 0; step < 300; step++) {
    const g = new Float64Array(d + 1);
    X.forEach((r, i) => {
      const e = 1 / (1 + exp(-logit(r))) - y[i]!;
      r.forEach((v, k) => (g[k]! += e * v));
      g[d]! += e;
    });
    g.forEach((v, k) => (w[k]! -= (0.5 * v) / X.length));
  }
  return test.map(z).map(logit);
}

it('needs both modalities: fused features reach test AUC >= 0.85, either alone clearly less', async () => {
  await generateSyntheticDataset({ outDir: dir, numCases: 800, seed: 21 });
  const d = await loadDataset(dir, { imageColumn: 'image', labelColumn: 'label', splitColumn: 'split', imageSize: SIZE, imageChannels: 1 });
  const F = d.clinicalColumns.length;
  const testAuc = (use: Modality) => auc(fitAndScore(features(d.train, F, use), d.train.labels, features(d.test, F, use)), d.test.labels);
  const both = testAuc('both');
  const image = testAuc('image');
  const clinical = testAuc('clinical');
  expect(both).toBeGreaterThanOrEqual(0.85);
  expect(image).toBeLessThan(both - 0.08);
  expect(clinical).toBeLessThan(both - 0.08);
});
