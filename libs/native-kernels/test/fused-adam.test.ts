import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * onnx-cpu's one-kernel Adam step equals TF.js's AdamOptimizer bit for bit (weights and both
 * moments after several steps, the same state names for checkpoints), with the addon on one and
 * two threads and with its JS fallback. Runs in plain Node (fixtures/adam-parity.mjs).
 */
jest.setTimeout(120_000);

interface AdamReport {
  valueDiffs: number[];
  momentDiffs: number[];
  sizes: number[];
  names: [string[], string[]];
  moved: boolean[];
  fusedCalls: number;
}

function parity(threads: number, addon: boolean): Promise<AdamReport> {
  const script = fileURLToPath(new URL('./fixtures/adam-parity.mjs', import.meta.url));
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [script, String(threads), addon ? 'addon' : 'no-addon'], { timeout: 110_000, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`adam-parity.mjs failed: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.slice(stdout.lastIndexOf('@@RESULT@@') + 10)) as AdamReport);
    }),
  );
}

describe.each([
  [1, true],
  [2, true],
  [1, false],
] as const)('fused Adam (%i threads, addon %s)', (threads, addon) => {
  it('gives exactly TF.js AdamOptimizer\'s weights and moments, one kernel per variable and step', async () => {
    const r = await parity(threads, addon);
    expect(r.valueDiffs).toEqual([0, 0, 0]);
    expect(r.momentDiffs).toEqual([0, 0, 0, 0, 0, 0]);
    expect(r.names[0]).toEqual(r.names[1]);
    expect(r.moved).toEqual([true, true, true]);
    expect(r.fusedCalls).toBe(3 * 4);
    expect(r.sizes[2]).toBe(420_000);
  });
});
