import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * A short training run from the same weights on the same batches gives the same loss curve on
 * onnx-cpu as on TF.js's pure-JS cpu backend. Training runs in plain Node on the built code
 * (fixtures/loss-curve.mjs): TF.js trains ~50x slower inside Jest's VM.
 */
jest.setTimeout(180_000);
const TOLERANCE = 1e-4;

interface Curves {
  cpu: number[];
  onnx: number[];
  nativeCalls: number;
}

function curves(model: string, steps: number): Promise<Curves> {
  const script = fileURLToPath(new URL('./fixtures/loss-curve.mjs', import.meta.url));
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [script, model, String(steps)], { timeout: 170_000, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`loss-curve.mjs ${model} failed: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.slice(stdout.lastIndexOf('@@RESULT@@') + 10)) as Curves);
    }),
  );
}

describe.each([
  // conv + batch norm + relu6 + depthwise + average and max pooling + dense (elu)
  ['mixed', 8],
  // the library's default backbone inside the fusion model (concatenate fusion, clinical MLP)
  ['small_cnn', 6],
] as const)('training %s', (model, steps) => {
  it('gives the pure-JS loss curve within 1e-4 relative, with the hot kernels native', async () => {
    const r = await curves(model, steps);
    expect(r.cpu).toHaveLength(steps);
    expect(r.onnx).toHaveLength(steps);
    const worst = Math.max(...r.cpu.map((c, i) => Math.abs(r.onnx[i]! - c) / Math.abs(c)));
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
    // The curve must move (the model trains), or equal curves would prove nothing.
    expect(new Set(r.cpu.map((l) => l.toFixed(4))).size).toBeGreaterThan(steps / 2);
    expect(r.nativeCalls).toBeGreaterThan(steps * 10);
  });
});
