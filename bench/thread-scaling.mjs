// Two threads against one on the reference model, timed in alternating windows in one process.
// On a shared VM the machine's speed drifts by the minute (bench/train-throughput.mjs measures 1
// and 2 threads minutes apart, so its ratio moves by +-0.3); pairs of adjacent windows cancel most
// of that drift. Prints per-window ms/step, the best of each, and the median of the paired ratios.
// Usage: npm run build && node bench/thread-scaling.mjs [--pairs 8] [--steps 5] [--threads 2] [--warmup 300]
// --warmup: steps before the pairs, so V8's JIT (whose compiler threads share the cores) has settled.
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { ONNX_CPU_BACKEND, onnxCpuStatus, registerOnnxCpuBackend } from '../libs/native-kernels/dist/index.js';
import { referenceModel, trainingStep } from './train-throughput-child.mjs';

const { values } = parseArgs({ options: { pairs: { type: 'string', default: '8' }, steps: { type: 'string', default: '5' }, threads: { type: 'string', default: '2' }, warmup: { type: 'string', default: '300' } } });
const [pairs, steps, many, warmup] = [Number(values.pairs), Number(values.steps), Number(values.threads), Number(values.warmup)];
const batch = 32;

registerOnnxCpuBackend({ threads: 1 });
await tf.setBackend(ONNX_CPU_BACKEND);
const step = trainingStep(referenceModel(64), batch, 64);
const windowMs = (threads) => {
  // Re-registering changes the addon's pool (and onnxruntime's threads) for the kernels in place.
  registerOnnxCpuBackend({ threads });
  step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  return (performance.now() - t0) / steps;
};
for (let i = 0; i < warmup; i++) step();
windowMs(1);
const one = [], two = [];
for (let p = 0; p < pairs; p++) {
  one.push(windowMs(1));
  two.push(windowMs(many));
  console.log(`pair ${p + 1}: 1 thread ${one[p].toFixed(1)} ms/step, ${many} threads ${two[p].toFixed(1)} ms/step, ratio ${(one[p] / two[p]).toFixed(2)}`);
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const best = (a) => Math.min(...a);
console.log(`GEMM kernels: ${onnxCpuStatus().gemm}; batch ${batch}, ${steps} steps per window`);
console.log(`best: 1 thread ${best(one).toFixed(1)} ms/step (${((1000 * batch) / best(one)).toFixed(0)} samples/s), ${many} threads ${best(two).toFixed(1)} ms/step (${((1000 * batch) / best(two)).toFixed(0)} samples/s): ${(best(one) / best(two)).toFixed(2)}x`);
console.log(`paired: median ${many}-thread/1-thread ratio ${median(one.map((v, i) => v / two[i])).toFixed(2)}x over ${pairs} pairs`);
