import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Every native kernel of onnx-cpu against TF.js's pure-JS cpu kernel on the same random inputs:
 * forward outputs and gradients (through tf.grads, so the backward kernels run too) within 1e-4
 * of the reference's largest magnitude, and proof that the native kernels really ran. The cases
 * run in plain Node on the built code (fixtures/kernel-parity.mjs): onnxruntime-node's tensor
 * checks reject typed arrays made in Jest's VM realm.
 */
jest.setTimeout(120_000);
const TOLERANCE = 1e-4;

interface CaseResult {
  name: string;
  kernels: string[];
  lengths: [number[], number[]];
  errors: Array<number | null>;
  notNative: string[];
  /** Set when the case threw on either backend. */
  error?: string;
}
interface Report {
  results: CaseResult[];
  fallback: { ints: number[]; small: number[]; nativeAdds: number };
  replaced: string[];
  /** 'loaded', 'disabled' or why the C++ NHWC addon is unavailable. */
  addon: string;
  /** The addon's GEMM instruction set. */
  gemm: string;
}

type Mode = 'addon' | 'addon-avx2' | 'no-addon';

function parity(threads: number, mode: Mode): Promise<Report> {
  const script = fileURLToPath(new URL('./fixtures/kernel-parity.mjs', import.meta.url));
  // addon-avx2: the AVX2 GEMM kernels, forced where the CPU has AVX-512 (the same where it has not).
  const env = { ...process.env, ...(mode === 'addon-avx2' ? { MEDFUSION_GEMM_ISA: 'avx2' } : {}) };
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [script, String(threads), mode === 'no-addon' ? 'no-addon' : 'addon'], { env, timeout: 110_000, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`kernel-parity.mjs failed: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.slice(stdout.lastIndexOf('@@RESULT@@') + 10)) as Report);
    }),
  );
}

// With the C++ addon (npm run build compiles it) serving what it covers first, on one thread and
// on two (the thread pool's split work and partial sums), with its AVX2 kernels, and with
// onnxruntime only (what runs where the addon cannot be built).
describe.each([
  ['addon', 1],
  ['addon', 2],
  ['addon-avx2', 2],
  ['no-addon', 1],
] as const)('onnx-cpu kernels (%s, %i threads) equal the pure-JS cpu kernels', (mode, threads) => {
  let report: Report;
  beforeAll(async () => {
    report = await parity(threads, mode);
  });

  it('ran every case, with the addon as asked', () => {
    expect(report.results.length).toBeGreaterThan(70);
    expect(report.addon).toBe(mode === 'no-addon' ? 'disabled' : 'loaded');
    if (mode === 'addon-avx2') expect(report.gemm).toBe('avx2');
    if (mode === 'no-addon') expect(report.gemm).toBe('none');
  });

  it('matches within 1e-4 relative on every output and gradient, running natively', () => {
    const failures = report.results
      .filter((r) => r.error || JSON.stringify(r.lengths[0]) !== JSON.stringify(r.lengths[1]) || r.errors.some((e) => e === null || !(e <= TOLERANCE)) || r.notNative.length > 0)
      .map((r) => ({ case: r.name, error: r.error, errors: r.errors, notNative: r.notNative, lengths: r.lengths }));
    expect(failures).toEqual([]);
  });

  it('has a case for every kernel it replaces', () => {
    const tested = new Set(report.results.flatMap((r) => r.kernels));
    expect(report.replaced.filter((k) => !tested.has(k))).toEqual([]);
  });

  it('keeps int32 and tiny float tensors in the JS kernels, with the same results', () => {
    expect(report.fallback).toEqual({ ints: [5, 6, 7], small: [1.5, 2.5], nativeAdds: 0 });
  });
});
