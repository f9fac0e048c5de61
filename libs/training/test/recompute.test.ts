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
  layers: {
    names: string[];
    wrappedNames: string[];
    maxDiff: number;
    moved: string[];
    reloadDiff: number;
    inferenceDiff: number;
    reloadedClasses: string[];
  };
}

let result: Promise<Result> | undefined;
function run(): Promise<Result> {
  result ??= new Promise<Result>((resolve, reject) =>
    execFile(process.execPath, [script], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.slice(stdout.lastIndexOf('@@RESULT@@') + 10)) as Result);
    }),
  );
  return result;
}

describe('recomputed (gradient checkpointing)', () => {
  it('gives the gradients of the plain blocks with a lower memory peak, and leaks nothing', async () => {
    const r = await run();
    // The loss and one gradient per weight (4 blocks x 2 kernels).
    expect(r.count).toBe(9);
    expect(r.nonZero).toBeGreaterThan(1000);
    expect(r.maxDiff).toBeLessThan(1e-6);
    expect(r.recomputePeak).toBeLessThan(r.plainPeak * 0.7);
    expect(r.leaked).toBe(0);
  });

  it('a residual RecomputeBlock of layers (conv, BatchNorm, ReLU, seeded dropout, conv) trains exactly like the same layers unwrapped', async () => {
    const { layers } = await run();
    // Same weight names, so checkpoints and weightsPath files fit either form.
    expect(layers.wrappedNames).toEqual(layers.names);
    // Two SGD steps moved every weight, BatchNorm moving statistics included (updated once per
    // step, not again by the re-run), and dropout replayed its masks: identical results.
    expect(layers.moved).toHaveLength(layers.names.length);
    expect(layers.maxDiff).toBeLessThan(1e-6);
    expect(layers.inferenceDiff).toBeLessThan(1e-6);
    expect(layers.reloadedClasses).toContain('MedFusionRecomputeBlock');
    expect(layers.reloadDiff).toBe(0);
  });
});
