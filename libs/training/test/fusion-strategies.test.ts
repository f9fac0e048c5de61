import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FUSION_TYPES } from '@medfusion/contracts';
import { generateSyntheticDataset } from '@medfusion/fusion';

/**
 * Every fusion strategy builds, trains an epoch on the synthetic data set, and saves and reloads
 * with identical outputs (custom layers included). Training runs in a plain Node process: see
 * fixtures/fusion-scenarios.mjs. How well each strategy learns is measured by bench/fusion-quality.mjs.
 */
jest.setTimeout(180_000);
const script = fileURLToPath(new URL('./fixtures/fusion-scenarios.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mf-fusion-'));

beforeAll(() => generateSyntheticDataset({ outDir: dir, numCases: 100, seed: 3, imageSize: 32 }));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Result {
  test: { auc: number; accuracy: number; loss: number };
  params: number;
  maxDiff: number;
  layers: string[];
}

function train(fusion: string): Promise<Result> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [script, fusion, dir, '1'], { timeout: 170_000, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${fusion}: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.slice(stdout.lastIndexOf('@@RESULT@@') + 10)) as Result);
    }),
  );
}

const EXPECTED_LAYERS: Record<string, string[]> = {
  concatenate: ['Concatenate', 'BatchNormalization', 'MedFusionSeededDropout'],
  gated: ['MedFusionGatedCombine'],
  attention: ['MedFusionClsToken', 'MedFusionMultiHeadAttention', 'LayerNormalization', 'MedFusionSelectToken'],
  cross_attention: ['MedFusionMultiHeadAttention', 'GlobalAveragePooling1D'],
  bilinear: ['Multiply', 'Add', 'BatchNormalization'],
  late: ['Average'],
  image_only: [],
  clinical_only: [],
};

describe.each(FUSION_TYPES)('fusion %s', (fusion) => {
  it('trains, and reloads from its saved form with identical outputs', async () => {
    const r = await train(fusion);
    expect(r.maxDiff).toBe(0);
    expect(Number.isFinite(r.test.loss)).toBe(true);
    expect(r.layers).toEqual(expect.arrayContaining(EXPECTED_LAYERS[fusion]!));
    expect(r.params).toBeGreaterThan(0);
  });
});
