#!/usr/bin/env node
// Data-parallel training throughput: the reference model (64x64x1 image: conv 16/32/64 +
// 2x2 max-pool, GAP; 16 clinical -> dense 32; concat; dense 64; dense 2 softmax; Adam) on the
// onnx-cpu backend with 1 thread per rank, batch 32 per rank. 1 rank = a plain process (no
// collective at all); N ranks = N processes on 127.0.0.1 joined by libs/collective (--transport
// socket, the default data plane, or grpc), each step
// going through the training library's GradientStep and DataParallel (case-weighted gradient
// all-reduce, the same update everywhere). Reports samples/s (sum over ranks) and the ratio.
// Usage: npm run build && node bench/ddp-throughput.mjs [--steps 30] [--warmup 3] [--batch 32] [--ranks 2] [--no-addon] [--transport socket|grpc]
// Timings are wall-clock on a shared machine: the load average is printed beside them.
import { fork } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '3' },
    batch: { type: 'string', default: '32' },
    ranks: { type: 'string', default: '2' },
    'no-addon': { type: 'boolean', default: false },
    transport: { type: 'string', default: 'socket' },
    child: { type: 'boolean', default: false },
  },
});
const IMAGE = 64;
const CLINICAL = 16;

if (values.child) {
  await rankProcess();
} else {
  await main();
}

async function main() {
  const steps = Number(values.steps);
  const warmup = Number(values.warmup);
  const batch = Number(values.batch);
  const ranks = Number(values.ranks);
  const addon = !values['no-addon'];
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`${cpus().length} cores (${cpus()[0]?.model ?? '?'}); reference model, Adam, onnx-cpu${addon ? ' + NHWC addon' : ''}, 1 thread per rank, batch ${batch} per rank, ${steps} timed steps after ${warmup} warm-up`);
  console.log(`load average before: ${load()} (other work on the machine slows every figure)`);
  const one = await runGroup(1, { steps, warmup, batch, addon });
  console.log(`1 rank  (plain process):       ${one.total.toFixed(1)} samples/s; CPU ${one.cpuMs[0].toFixed(0)} ms per step of ${one.stepMs[0].toFixed(0)} ms   [load ${load()}]`);
  const many = await runGroup(ranks, { steps, warmup, batch, addon });
  console.log(
    `${ranks} ranks (processes + ${values.transport} collective): ${many.total.toFixed(1)} samples/s = ${many.perRank.map((v) => v.toFixed(1)).join(' + ')}; ` +
      `all-reduce wait ${many.reduceMs.map((v) => v.toFixed(1)).join(' / ')} ms (CPU ${many.reduceCpuMs.map((v) => v.toFixed(1)).join(' / ')} ms) per step of ${many.stepMs.map((v) => v.toFixed(0)).join(' / ')} ms; ` +
      `CPU ${many.cpuMs.map((v) => v.toFixed(0)).join(' / ')} ms per step   [load ${load()}]`,
  );
  // With a free core per rank a step would take about its CPU time; a loaded machine hides that.
  const cpuBound = (ranks * one.cpuMs[0]) / Math.max(...many.cpuMs);
  console.log(`CPU-time estimate of the ratio with one free core per rank: ${cpuBound.toFixed(2)}x (${ranks} x 1-rank CPU per step / slowest rank's CPU per step; ignores waiting on the network)`);
  console.log(`ratio ${ranks} ranks / 1 rank: ${(many.total / one.total).toFixed(2)}x (goal on this 2-core machine: >= 1.7x for 2 ranks)`);
}

async function runGroup(worldSize, settings) {
  const children = Array.from({ length: worldSize }, () => fork(new URL(import.meta.url).pathname, ['--child', '--transport', values.transport], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  try {
    const message = (c, type) => new Promise((resolve, reject) => {
      c.on('message', (m) => (m.type === type ? resolve(m) : m.type === 'error' ? reject(new Error(m.message)) : undefined));
      c.once('exit', (code) => reject(new Error(`a rank exited with code ${code} before sending ${type}`)));
    });
    const ports = await Promise.all(children.map((c) => message(c, 'ready').then((m) => m.port)));
    const peers = ports.map((port) => ({ host: '127.0.0.1', port }));
    const results = children.map((c) => message(c, 'result'));
    children.forEach((c, rank) => c.send({ rank, worldSize, peers, ...settings }));
    const r = await Promise.all(results);
    const perRank = r.map((m) => m.samplesPerSecond);
    return { perRank, total: perRank.reduce((a, b) => a + b, 0), reduceMs: r.map((m) => m.reduceMs), stepMs: r.map((m) => m.stepMs), cpuMs: r.map((m) => m.cpuMs), reduceCpuMs: r.map((m) => m.reduceCpuMs) };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  }
}

function referenceModel(tf) {
  const image = tf.input({ shape: [IMAGE, IMAGE, 1], name: 'image' });
  let x = image;
  for (const filters of [16, 32, 64]) {
    x = tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: filters }) }).apply(x);
    x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x);
  }
  x = tf.layers.globalAveragePooling2d({}).apply(x);
  const clinical = tf.input({ shape: [CLINICAL], name: 'clinical' });
  const c = tf.layers.dense({ units: 32, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(clinical);
  let h = tf.layers.concatenate().apply([x, c]);
  h = tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(h);
  const out = tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(h);
  return tf.model({ inputs: [image, clinical], outputs: out });
}

async function rankProcess() {
  const tf = await import('@tensorflow/tfjs');
  const { ONNX_CPU_BACKEND, registerOnnxCpuBackend } = await import('../libs/native-kernels/dist/index.js');
  const { CollectiveGroup, RankServer } = await import('../libs/collective/dist/index.js');
  const { DataParallel, GradientStep } = await import('../libs/training/dist/index.js');
  const server = await RankServer.listen({ host: '127.0.0.1', port: 0 });
  process.send({ type: 'ready', port: server.port });
  const { rank, worldSize, peers, steps, warmup, batch, addon } = await new Promise((resolve) => process.once('message', resolve));
  try {
    registerOnnxCpuBackend({ threads: 1, addon });
    await tf.setBackend(ONNX_CPU_BACKEND);
    await tf.ready();
    const model = referenceModel(tf);
    const optimizer = tf.train.adam(1e-3);
    const stepper = new GradientStep(tf, model, optimizer, (y, p) => tf.losses.softmaxCrossEntropy(y, p));
    let group;
    let dp;
    if (worldSize > 1) {
      group = await CollectiveGroup.join({ jobId: 'ddp-bench', rank, worldSize, peers, server, token: 'ddp-bench-token-0123456', joinTimeoutMs: 60_000, transport: values.transport });
      dp = new DataParallel(tf, group, stepper.trainables);
      await dp.broadcastWeights(model);
    } else {
      await server.shutdown(0);
    }
    // Each rank its own (fixed) data: throughput does not depend on the values.
    const xImage = tf.randomUniform([batch, IMAGE, IMAGE, 1], 0, 1, 'float32', 10 + rank);
    const xClinical = tf.randomNormal([batch, CLINICAL], 0, 1, 'float32', 20 + rank);
    const y = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => (i + rank) % 2), 'int32'), 2);
    let reduceMs = 0;
    let reduceCpuUs = 0;
    const step = async () => {
      const loss = stepper.accumulate([xImage, xClinical], y);
      if (!Number.isFinite(loss)) throw new Error(`rank ${rank}: loss became ${loss}`);
      if (dp) {
        dp.noteLoss(loss, batch);
        const t = performance.now();
        const c = process.cpuUsage();
        await dp.reduceAndApply(stepper);
        reduceMs += performance.now() - t;
        const used = process.cpuUsage(c);
        reduceCpuUs += used.user + used.system;
      } else stepper.apply();
    };
    for (let i = 0; i < warmup; i++) await step();
    // Start the clock together (a barrier) so the ranks' windows overlap.
    if (group) await group.barrier();
    reduceMs = 0;
    reduceCpuUs = 0;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < steps; i++) await step();
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    // reduceMs includes the wait for the slower rank (the all-reduce is where ranks meet).
    process.send({ type: 'result', samplesPerSecond: (steps * batch) / seconds, reduceMs: reduceMs / steps, stepMs: (seconds * 1000) / steps, cpuMs: (cpu.user + cpu.system) / 1000 / steps, reduceCpuMs: reduceCpuUs / 1000 / steps }, () => process.exit(0));
    await group?.close();
  } catch (error) {
    process.send({ type: 'error', message: `rank ${rank}: ${error.stack ?? error}` }, () => process.exit(1));
  }
}
