import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FusionType } from '@medfusion/contracts';
import { generateSyntheticDataset } from '@medfusion/fusion';

/**
 * Issue #4's quality bar: on the synthetic multimodal data set (its label needs the lesion AND the
 * clinical risk factors), every fusion strategy reaches a test AUC of at least 0.9 while the
 * image-only and clinical-only baselines stay clearly below. Each model trains in its own plain
 * Node process on the fast CPU path (`onnx-cpu`), with fixed data and weight seeds, so the figures
 * are the same on every run on a given machine; bench/fusion-quality.mjs prints the same table.
 */
jest.setTimeout(600_000);

const FUSION_STRATEGIES: FusionType[] = ['concatenate', 'gated', 'attention', 'cross_attention', 'bilinear'];
const BASELINES: FusionType[] = ['image_only', 'clinical_only'];
/** The attention strategies have ~3-7x the parameters of the others and need more epochs (docs/models.md). */
const EPOCHS: Partial<Record<FusionType, number>> = { attention: 12, cross_attention: 12 };
const LEARNING_RATE = 0.005;

const script = fileURLToPath(new URL('./fixtures/fusion-scenarios.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mf-fusion-quality-'));
const auc = new Map<FusionType, number>();

function trainAuc(fusion: FusionType): Promise<number> {
  const epochs = String(EPOCHS[fusion] ?? 8);
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      [script, fusion, dir, epochs, String(LEARNING_RATE)],
      { timeout: 300_000, maxBuffer: 1 << 26, env: { ...process.env, FUSION_BACKEND: 'onnx-cpu' } },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`${fusion}: ${err.message}\n${stderr}`));
        const result = JSON.parse(stdout.slice(stdout.lastIndexOf('@@RESULT@@') + 10)) as { test: { auc: number } };
        resolve(result.test.auc);
      },
    ),
  );
}

beforeAll(async () => {
  await generateSyntheticDataset({ outDir: dir, numCases: 800, seed: 13, imageSize: 32 });
  // Two trainings at a time: one per core of the CI machine.
  const queue = [...FUSION_STRATEGIES, ...BASELINES];
  const worker = async () => {
    for (let fusion = queue.shift(); fusion; fusion = queue.shift()) auc.set(fusion, await trainAuc(fusion));
  };
  await Promise.all([worker(), worker()]);
  process.stdout.write(`fusion quality (test AUC): ${JSON.stringify(Object.fromEntries(auc))}\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it.each(FUSION_STRATEGIES)('%s reaches a test AUC of at least 0.9', (fusion) => {
  expect(auc.get(fusion)).toBeGreaterThanOrEqual(0.9);
});

it.each(BASELINES)('the %s baseline stays clearly below every fusion strategy', (baseline) => {
  const weakestFusion = Math.min(...FUSION_STRATEGIES.map((f) => auc.get(f)!));
  expect(auc.get(baseline)).toBeLessThan(0.9);
  expect(auc.get(baseline)).toBeLessThanOrEqual(weakestFusion - 0.02);
});
