#!/usr/bin/env node
// Test AUC of every fusion strategy and of the single-modality baselines on the synthetic data set
// (the label needs both modalities), each trained in its own process with the same seed.
// Usage: npm run build && node bench/fusion-quality.mjs [--cases 800] [--epochs 8] [--lr 0.005]
//          [--data-seed 13] [--backend onnx-cpu|cpu] [--only gated,late]
// libs/training/test/fusion-quality.test.ts runs the same fixture with the same defaults and
// asserts the thresholds of issue #4 (every strategy >= 0.9, the baselines clearly lower).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateSyntheticDataset } from '../libs/fusion/dist/index.js';
import { FUSION_TYPES } from '../libs/contracts/dist/index.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '800' },
    epochs: { type: 'string', default: '8' },
    lr: { type: 'string', default: '0.005' },
    'data-seed': { type: 'string', default: '13' },
    backend: { type: 'string', default: 'onnx-cpu' },
    only: { type: 'string' },
  },
});
const dir = mkdtempSync(join(tmpdir(), 'mf-fusion-bench-'));
await generateSyntheticDataset({ outDir: dir, numCases: Number(values.cases), seed: Number(values['data-seed']), imageSize: 32 });
const script = new URL('../libs/training/test/fixtures/fusion-scenarios.mjs', import.meta.url).pathname;
console.log(
  `synthetic data: ${values.cases} cases (data seed ${values['data-seed']}), 32 px; ${values.epochs} epochs, batch 32, Adam ${values.lr}, seed 5, backend ${values.backend}`,
);
console.log('fusion          test_auc  test_acc  balanced  params  seconds');
const chosen = values.only ? values.only.split(',') : FUSION_TYPES;
for (const fusion of chosen) {
  const t0 = Date.now();
  const out = execFileSync(process.execPath, [script, fusion, dir, values.epochs, values.lr], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    env: { ...process.env, FUSION_BACKEND: values.backend },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const r = JSON.parse(out.slice(out.lastIndexOf('@@RESULT@@') + 10));
  console.log(
    `${fusion.padEnd(15)} ${r.test.auc.toFixed(4).padStart(8)}  ${r.test.accuracy.toFixed(4).padStart(8)}  ${r.test.balancedAccuracy.toFixed(4).padStart(8)}  ${String(r.params).padStart(6)}  ${((Date.now() - t0) / 1000).toFixed(0).padStart(7)}`,
  );
}
rmSync(dir, { recursive: true, force: true });
