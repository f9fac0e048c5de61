import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./fixtures/recompute-scenario.mjs', import.meta.url));

interface Result {
  maxDiff: number;
  nonZero: number;
  count: number;
  plainPeak: number;
  recomputePeak: number;
  leaked: number;
}

describe('recomputed (gradient checkpointing)', () => {
  it('gives the gradients of the plain blocks with a lower memory peak, and leaks nothing', async () => {
    const r = await new Promise<Result>((resolve, reject) =>
      execFile(process.execPath, [script], { timeout: 60_000 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`${err.message}\n${stderr}`));
        resolve(JSON.parse(stdout.slice(stdout.lastIndexOf('@@RESULT@@') + 10)) as Result);
      }),
    );
    // The loss and one gradient per weight (4 blocks x 2 kernels).
    expect(r.count).toBe(9);
    expect(r.nonZero).toBeGreaterThan(1000);
    expect(r.maxDiff).toBeLessThan(1e-6);
    expect(r.recomputePeak).toBeLessThan(r.plainPeak * 0.7);
    expect(r.leaked).toBe(0);
  });
});
