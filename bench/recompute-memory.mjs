#!/usr/bin/env node
// Gradient checkpointing (libs/training/src/recompute.ts) against plain blocks: peak tensor memory,
// kernel calls and time of one gradient computation, recomputation against the plain blocks
// measured in the same run. Without --backbone: a stack of residual conv blocks
// (x + conv3x3(relu(conv3x3(x)))). With --backbone: that image backbone alone (image -> pooled
// features, loss = mean of the squared features, training mode) built with
// modelConfig.gradientCheckpointing off and on from the same seed.
// Usage: npm run build && node bench/recompute-memory.mjs [--blocks 8] [--batch 4] [--size 32] [--channels 16]
//        node bench/recompute-memory.mjs --backbone resnet34 [--width 0.0625] [--depth 1] [--batch 4] [--size 32] [--channels 3] [--backend cpu|onnx-cpu]
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectComputeBackend } from '../libs/training/dist/index.js';
import { backboneGradients, maxRelativeDiff } from '../libs/training/test/fixtures/backbone-gradients.mjs';
import { residualStack } from '../libs/training/test/fixtures/residual-stack.mjs';

const { values } = parseArgs({
  options: {
    blocks: { type: 'string', default: '8' },
    batch: { type: 'string', default: '4' },
    size: { type: 'string', default: '32' },
    channels: { type: 'string' },
    backbone: { type: 'string' },
    width: { type: 'string', default: '0.0625' },
    depth: { type: 'string', default: '1' },
    backend: { type: 'string', default: 'cpu' },
  },
});
const [B, S] = [values.batch, values.size].map(Number);
await selectComputeBackend(values.backend);

const results = {};
const header = () => console.log('mode        peak_MB  kernels  seconds');
const report = (mode, peakBytes, kernels, seconds) =>
  console.log(`${mode.padEnd(10)} ${(peakBytes / 2 ** 20).toFixed(1).padStart(8)} ${String(kernels).padStart(8)} ${seconds.toFixed(1).padStart(8)}`);
let maxDiff;
if (values.backbone) {
  const C = Number(values.channels ?? 3);
  const run = backboneGradients(tf, { backbone: values.backbone, imageSize: S, channels: C, width: Number(values.width), depth: Number(values.depth), batch: B });
  console.log(`${values.backbone} alone, width ${values.width}, depth ${values.depth}, batch ${B}, ${S} x ${S} x ${C}, ${tf.getBackend()} backend`);
  header();
  // One unmeasured gradient of each kind first: the first calls of a kernel at a shape cost more
  // (onnx-cpu builds a session per kernel and shape), which would count against whichever runs first.
  for (const mode of ['plain', 'recompute']) await run(mode === 'recompute');
  for (const mode of ['plain', 'recompute']) {
    const r = await run(mode === 'recompute');
    report(mode, r.peakBytes, r.kernels, r.seconds);
    results[mode] = { peak: r.peakBytes, seconds: r.seconds, grads: r.grads, blocks: r.recomputeBlocks };
  }
  console.log(`${results.recompute.blocks} recomputed blocks`);
  maxDiff = `largest relative gradient difference ${maxRelativeDiff(results.plain.grads, results.recompute.grads)}`;
} else {
  const [D, C] = [Number(values.blocks), Number(values.channels ?? 16)];
  const { gradients } = residualStack(tf, { blocks: D, batch: B, size: S, channels: C });
  console.log(`${D} residual blocks, batch ${B}, ${S} x ${S} x ${C}, ${tf.getBackend()} backend`);
  header();
  for (const mode of ['plain', 'recompute']) {
    const t0 = performance.now();
    // tf.profile returns the same object every call: read it before the next one.
    const p = await tf.profile(gradients(mode === 'recompute'));
    const seconds = (performance.now() - t0) / 1000;
    report(mode, p.peakBytes, p.kernels.length, seconds);
    results[mode] = { peak: p.peakBytes, seconds, grads: p.result.map((t) => t.dataSync()) };
    tf.dispose(p.result);
  }
  let d = 0;
  results.plain.grads.forEach((g, i) => g.forEach((v, k) => (d = Math.max(d, Math.abs(v - results.recompute.grads[i][k])))));
  maxDiff = `largest gradient difference ${d}`;
}
console.log(`peak ratio recompute/plain ${(results.recompute.peak / results.plain.peak).toFixed(2)}, time ratio ${(results.recompute.seconds / results.plain.seconds).toFixed(2)}, ${maxDiff}`);
