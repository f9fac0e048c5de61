#!/usr/bin/env node
// Training throughput of the reference fusion model and of every image backbone on each TF.js
// backend available here, with the fast CPU path's efficiency against native convolution
// throughput measured in the same run on the same threads.
// Usage: npm run build && node bench/train-throughput.mjs [--steps 20] [--windows 3] [--js-steps 1]
//        [--warmup-steps 300] [--warmup-seconds 10] [--threads 1,2] [--only reference|backbones] [--backbones resnet18,vit_tiny] [--image-size 32]
//        [--batch 8] [--js-batch 2] [--js-timeout 240] [--no-addon]
// onnx-cpu figures are the best of --windows runs of --steps steps (median in brackets); the native
// convolution yardstick is the best of 30 runs: both the closest to a quiet machine.
// A pure-JS backbone run that has not finished (one-sample warm-up + its timed steps) within
// --js-timeout seconds is stopped and reported as an upper bound on its speed, so the speedup is a
// lower bound.
// Each (backend, threads, model) runs in its own child process so thread pools and kernel caches
// never leak between measurements. Timings are wall-clock on a shared machine: check `uptime`.
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '20' },
    windows: { type: 'string', default: '3' },
    'js-steps': { type: 'string', default: '1' },
    // onnx-cpu warms up for this many steps or seconds, whichever ends first (V8's JIT: see
    // train-throughput-child.mjs); 1 step gives the early, JIT-bound figure.
    'warmup-steps': { type: 'string', default: '300' },
    'warmup-seconds': { type: 'string', default: '10' },
    'js-batch': { type: 'string', default: '2' },
    'js-timeout': { type: 'string', default: '240' },
    'no-addon': { type: 'boolean', default: false },
    threads: { type: 'string', default: '1,2' },
    only: { type: 'string' },
    backbones: { type: 'string' },
    'image-size': { type: 'string', default: '32' },
    batch: { type: 'string', default: '8' },
    // internal: run one measurement in this process and print it as JSON
    child: { type: 'string' },
  },
});

if (values.child) {
  const { measure } = await import('./train-throughput-child.mjs');
  const result = await measure(JSON.parse(values.child));
  console.log(`@@RESULT@@${JSON.stringify(result)}`);
  process.exit(0);
}

const steps = Number(values.steps);
const windows = Number(values.windows);
const jsSteps = Number(values['js-steps']);
const warmup = { warmupSteps: Number(values['warmup-steps']), warmupSeconds: Number(values['warmup-seconds']) };
const threadList = values.threads.split(',').map(Number);
const batch = Number(values.batch);
const jsBatch = Number(values['js-batch']);
const addon = !values['no-addon'];
const imageSize = Number(values['image-size']);

function run(spec, timeoutSeconds) {
  try {
    const out = execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--child', JSON.stringify(spec)], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: timeoutSeconds ? timeoutSeconds * 1000 : undefined,
    });
    return JSON.parse(out.slice(out.lastIndexOf('@@RESULT@@') + 10));
  } catch (err) {
    if (timeoutSeconds && (err.code === 'ETIMEDOUT' || err.signal === 'SIGTERM')) {
      // Not done with 1 warm-up sample + steps x batch samples in the time: slower than this.
      return { timedOut: true, samplesPerSecond: (1 + spec.steps * spec.batch) / timeoutSeconds };
    }
    throw err;
  }
}

const fmt = (v, d = 1) => (v >= 100 ? v.toFixed(0) : v.toFixed(d));
console.log(`${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (other work on the machine slows every figure)`);
console.log(`Adam; fast path = onnx-cpu (${addon ? 'C++ addon GEMMs and kernels + onnxruntime-node for the rest' : 'onnxruntime-node kernels only'}), pure JS = TF.js cpu\n`);

if (values.only !== 'backbones') {
  console.log('## Reference model (64x64x1 image: conv 16/32/64 + max-pool, GAP; 16 clinical -> dense 32; concat; dense 64; dense 2), batch 32');
  console.log('backend         threads  samples/s (median)  FLOP/sample  native conv GFLOP/s  achieved GFLOP/s  efficiency');
  const reference = {};
  for (const backend of ['cpu', 'onnx-cpu']) {
    for (const threads of backend === 'cpu' ? [1] : threadList) {
      const r = run({ model: 'reference', backend, threads, addon, steps: backend === 'cpu' ? jsSteps : steps, windows: backend === 'cpu' ? 1 : windows, batch: 32, imageSize: 64, ...warmup });
      reference[`${backend}/${threads}`] = r;
      const achieved = (r.samplesPerSecond * r.flopsPerSample) / 1e9;
      console.log(
        `${backend.padEnd(15)} ${String(threads).padStart(7)}  ${`${fmt(r.samplesPerSecond)} (${fmt(r.medianSamplesPerSecond ?? r.samplesPerSecond)})`.padStart(18)}  ${(r.flopsPerSample / 1e6).toFixed(1).padStart(9)} M  ${fmt(r.nativeConvGflops).padStart(19)}  ${fmt(achieved, 2).padStart(16)}  ${((100 * achieved) / r.nativeConvGflops).toFixed(2).padStart(9)}%`,
      );
    }
  }
  const one = reference['onnx-cpu/1'];
  const two = reference['onnx-cpu/2'];
  if (one && two) {
    console.log(`onnx-cpu 2 threads / 1 thread: ${(two.samplesPerSecond / one.samplesPerSecond).toFixed(2)}x`);
    // What two threads of this machine give a native convolution in this run: on a shared VM the
    // second core is often slower than the first, and the target ratio is judged against this.
    console.log(`native conv 2 threads / 1 thread (same run): ${(two.nativeConvGflops / one.nativeConvGflops).toFixed(2)}x`);
  }
  if (one) console.log(`onnx-cpu 1 thread / pure JS: ${(one.samplesPerSecond / reference['cpu/1'].samplesPerSecond).toFixed(0)}x`);
  if (one) console.log(`onnx-cpu addon: ${one.addon}; its GEMM kernels: ${one.gemm}`);
  console.log('FLOP/sample = 3 x forward FLOPs (2 per multiply-add of convolutions and dense layers; backward ~ 2 x forward).');
  console.log('native conv = onnxruntime Conv, NCHW, 3x3 same, 32x32x32 -> 32x32x64, batch 32, same threads, in this process.\n');
}

if (values.only !== 'reference') {
  const { IMAGE_BACKBONES } = await import('../libs/contracts/dist/index.js');
  const chosen = values.backbones ? values.backbones.split(',') : IMAGE_BACKBONES;
  console.log(`## Image backbones (fusion model: backbone + concatenate fusion, ${imageSize}x${imageSize}x1, 16 clinical features, 1 thread; batch ${batch}, pure JS batch ${jsBatch})`);
  console.log('backbone          pure JS samples/s  onnx-cpu samples/s  speedup');
  for (const backbone of chosen) {
    const fast = run({ model: backbone, backend: 'onnx-cpu', threads: 1, addon, steps, windows, batch, imageSize, ...warmup });
    const js = run({ model: backbone, backend: 'cpu', threads: 1, steps: jsSteps, batch: jsBatch, imageSize }, Number(values['js-timeout']));
    const bound = js.timedOut ? '<' : ' ';
    console.log(
      `${backbone.padEnd(17)} ${`${bound}${fmt(js.samplesPerSecond, 3)}`.padStart(17)}  ${fmt(fast.samplesPerSecond).padStart(18)}  ${`${js.timedOut ? '>' : ' '}${(fast.samplesPerSecond / js.samplesPerSecond).toFixed(0)}`.padStart(6)}x`,
    );
  }
  console.log(`pure JS: ${jsSteps} timed step(s) of ${jsBatch} after a one-sample warm-up step; '<' = not finished within ${values['js-timeout']} s, so its speed is below (1 + ${jsSteps} x ${jsBatch}) / ${values['js-timeout']} samples/s and the speedup above the figure shown;`);
  console.log(`onnx-cpu: best of ${windows} x ${steps} timed steps of ${batch} after a warm-up of ${warmup.warmupSteps} steps or ${warmup.warmupSeconds} s, whichever ended first (native sessions, V8's JIT). Pure JS per-sample cost barely depends on the batch size.`);
}
