import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset, type Split } from './dataset-loader.js';
import { generateSyntheticDataset } from './synthetic-dataset.js';

/**
 * The synthetic label must need both modalities: a logistic regression on hand-made image features
 * (lesion area and brightness from the pixels) plus the clinical values must beat either alone.
 */
const dir = mkdtempSync(join(tmpdir(), 'mf-signal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function imageFeatures(s: Split, i: number): number[] {
  const px = s.images.subarray(i * 64 * 64, (i + 1) * 64 * 64);
  let area = 0;
  let sum = 0;
  for (const v of px) {
    if (v > 0.35) {
      area++;
      sum += v;
    }
  }
  return [Math.sqrt(area), area ? sum / area : 0];
}

function features(s: Split, F: number, use: 'both' | 'image' | 'clinical'): number[][] {
  return Array.from({ length: s.count }, (_, i) => [
    ...(use !== 'clinical' ? imageFeatures(s, i) : []),
    ...(use !== 'image' ? Array.from(s.clinical.subarray(i * F, (i + 1) * F)) : []),
  ]);
}

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

function fitAndScore(train: number[][], y: Int32Array, test: number[][]): number[] {
  const d = train[0]!.length;
  const mean = Array.from({ length: d }, (_, k) => train.reduce((a, r) => a + r[k]!, 0) / train.length);
  const sd = Array.from({ length: d }, (_, k) => Math.sqrt(train.reduce((a, r) => a + (r[k]! - mean[k]!) ** 2, 0) / train.length) || 1);
  const z = (r: number[]) => r.map((v, k) => (v - mean[k]!) / sd[k]!);
  const X = train.map(z);
  const w = new Array<number>(d + 1).fill(0);
  for (let it = 0; it < 400; it++) {
    const g = new Array<number>(d + 1).fill(0);
    X.forEach((r, i) => {
      const p = 1 / (1 + Math.exp(-(w[d]! + r.reduce((a, v, k) => a + v * w[k]!, 0))));
      const e = p - y[i]!;
      r.forEach((v, k) => (g[k]! += e * v));
      g[d]! += e;
    });
    g.forEach((v, k) => (w[k]! -= (0.5 * v) / X.length));
  }
  return test.map(z).map((r) => w[d]! + r.reduce((a, v, k) => a + v * w[k]!, 0));
}

it('needs both modalities: fused features reach AUC >= 0.85, either alone clearly less', async () => {
  await generateSyntheticDataset({ outDir: dir, numCases: 600, seed: 21 });
  const d = await loadDataset(dir, { imageColumn: 'image', labelColumn: 'label', splitColumn: 'split', imageSize: 64, imageChannels: 1 });
  const F = d.clinicalColumns.length;
  const result = Object.fromEntries(
    (['both', 'image', 'clinical'] as const).map((use) => {
      const scores = fitAndScore(features(d.train, F, use), d.train.labels, features(d.test, F, use));
      return [use, auc(scores, d.test.labels)];
    }),
  );
  expect(result['both']).toBeGreaterThanOrEqual(0.85);
  expect(result['image']).toBeLessThan(result['both']! - 0.08);
  expect(result['clinical']).toBeLessThan(result['both']! - 0.08);
});
