import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Same seed, data, backend and thread count: the same weights, bit for bit (docs/training.md,
 * "Reproducibility"), also when the addon splits filter gradients and sums over two threads:
 * each thread's partial result covers a fixed range, whichever thread runs it.
 * Runs in plain Node (fixtures/repeat-run.mjs).
 */
jest.setTimeout(120_000);

function repeat(threads: number): Promise<{ differing: number[]; sizes: number[] }> {
  const script = fileURLToPath(new URL('./fixtures/repeat-run.mjs', import.meta.url));
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [script, String(threads)], { timeout: 110_000, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`repeat-run.mjs failed: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.slice(stdout.lastIndexOf('@@RESULT@@') + 10)) as { differing: number[]; sizes: number[] });
    }),
  );
}

describe.each([1, 2])('onnx-cpu training on %i thread(s)', (threads) => {
  it('gives bit-identical weights when run twice', async () => {
    const r = await repeat(threads);
    expect(r.sizes.length).toBe(6);
    expect(r.differing).toEqual(r.sizes.map(() => 0));
  });
});
