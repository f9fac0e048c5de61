#!/usr/bin/env node
// Gradient checkpointing (libs/training/src/recompute.ts) against plain blocks: peak tensor memory,
// kernel calls and time of one gradient computation over a stack of residual conv blocks
// (x + conv3x3(relu(conv3x3(x)))), on the pure-JS cpu backend.
// Usage: npm run build && node bench/recompute-memory.mjs [--blocks 8] [--batch 4] [--size 32] [--channels 16]
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { recomputed } from '../libs/training/dist/index.js';

const { values } = parseArgs({ options: { blocks: { type: 'string', default: '8' }, batch: { type: 'string', default: '4' }, size: { type: 'string', default: '32' }, channels: { type: 'string', default: '16' } } });
const [D, B, S, C] = [values.blocks, values.batch, values.size, values.channels].map(Number);
await tf.setBackend('cpu');
const weights = Array.from({ length: D }, (_, i) => [0, 1].map((k) => tf.variable(tf.randomNormal([3, 3, C, C], 0, 0.1, 'float32', 2 * i + k), true)));
const all = weights.flat();
const x = tf.randomNormal([B, S, S, C], 0, 1, 'float32', 99);
const block = (h, a, b) => tf.add(h, tf.conv2d(tf.relu(tf.conv2d(h, a, 1, 'same')), b, 1, 'same'));
const gradients = (withRecompute) => () => {
  const { value, grads } = tf.variableGrads(() => {
    let h = x;
    for (const [a, b] of weights) h = withRecompute ? recomputed(tf, block, h, [a, b]) : block(h, a, b);
    return tf.mean(tf.square(h));
  }, all);
  return [value, ...all.map((v) => grads[v.name])];
};

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
