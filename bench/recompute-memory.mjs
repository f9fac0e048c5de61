#!/usr/bin/env node
// Gradient checkpointing (libs/training/src/recompute.ts) against plain blocks: peak tensor memory,
// kernel calls and time of one gradient computation over a stack of residual conv blocks
// (x + conv3x3(relu(conv3x3(x)))), on the pure-JS cpu backend.
// Usage: npm run build && node bench/recompute-memory.mjs [--blocks 8] [--batch 4] [--size 32] [--channels 16]
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { residualStack } from '../libs/training/test/fixtures/residual-stack.mjs';

const { values } = parseArgs({ options: { blocks: { type: 'string', default: '8' }, batch: { type: 'string', default: '4' }, size: { type: 'string', default: '32' }, channels: { type: 'string', default: '16' } } });
const [D, B, S, C] = [values.blocks, values.batch, values.size, values.channels].map(Number);
await tf.setBackend('cpu');
const { gradients } = residualStack(tf, { blocks: D, batch: B, size: S, channels: C });

console.log(`${D} residual blocks, batch ${B}, ${S} x ${S} x ${C}, pure-JS cpu backend`);
console.log('mode        peak_MB  kernels  seconds');
const results = {};
for (const mode of ['plain', 'recompute']) {
  const t0 = performance.now();
  // tf.profile returns the same object every call: read it before the next one.
  const p = await tf.profile(gradients(mode === 'recompute'));
  const seconds = (performance.now() - t0) / 1000;
  console.log(`${mode.padEnd(10)} ${(p.peakBytes / 2 ** 20).toFixed(1).padStart(8)} ${String(p.kernels.length).padStart(8)} ${seconds.toFixed(1).padStart(8)}`);
  results[mode] = { peak: p.peakBytes, seconds, grads: p.result.map((t) => t.dataSync()) };
  tf.dispose(p.result);
}
let maxDiff = 0;
results.plain.grads.forEach((g, i) => g.forEach((v, k) => (maxDiff = Math.max(maxDiff, Math.abs(v - results.recompute.grads[i][k])))));
console.log(`peak ratio recompute/plain ${(results.recompute.peak / results.plain.peak).toFixed(2)}, time ratio ${(results.recompute.seconds / results.plain.seconds).toFixed(2)}, largest gradient difference ${maxDiff}`);
