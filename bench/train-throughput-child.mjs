// One throughput measurement (one backend, thread count and model) for bench/train-throughput.mjs.
import * as tf from '@tensorflow/tfjs';
import { ONNX_CPU_BACKEND, measureNativeConvGflops, onnxCpuStatus, registerOnnxCpuBackend } from '../libs/native-kernels/dist/index.js';


const CLINICAL = 16;

/** The reference model, built here so the figure does not move when the library's defaults do. */
export function referenceModel(imageSize) {
  const image = tf.input({ shape: [imageSize, imageSize, 1], name: 'image' });
  let x = image;
  for (const filters of [16, 32, 64]) {
    x = tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x);
    x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x);
  }
  x = tf.layers.globalAveragePooling2d({}).apply(x);
  const clinical = tf.input({ shape: [CLINICAL], name: 'clinical' });
  const c = tf.layers.dense({ units: 32, activation: 'relu' }).apply(clinical);
  let h = tf.layers.concatenate().apply([x, c]);
  h = tf.layers.dense({ units: 64, activation: 'relu' }).apply(h);
  const out = tf.layers.dense({ units: 2, activation: 'softmax' }).apply(h);
  return tf.model({ inputs: [image, clinical], outputs: out });
}

/** Forward FLOPs per sample: 2 per multiply-add of every Conv2D and Dense layer. */
function forwardFlops(model) {
  let flops = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === 'Conv2D') {
      const [, h, w, out] = layer.outputShape;
      const k = layer.kernel.shape;
      flops += 2 * h * w * out * k[0] * k[1] * k[2];
    } else if (cls === 'Dense') {
      const k = layer.kernel.shape;
      flops += 2 * k[0] * k[1];
    }
  }
  return flops;
}

async function libraryModel(backbone, imageSize) {
  const { modelConfigSchema } = await import('../libs/contracts/dist/index.js');
  const { buildFusionModel } = await import('../libs/training/dist/index.js');
  const cfg = modelConfigSchema.parse({ backbone, imageSize, imageChannels: 1, fusion: 'concatenate' });
  return buildFusionModel(tf, cfg, { numClinical: CLINICAL, seed: 1 });
}

/**
 * One Adam step on `n` (default: all) of a fixed random batch, ending with the loss read back (so
 * the step's work is done when it returns); throws if the loss is not finite.
 */
export function trainingStep(model, batch, imageSize) {
  const optimizer = tf.train.adam(1e-3);
  const xImage = tf.randomUniform([batch, imageSize, imageSize, 1], 0, 1, 'float32', 1);
  // The library's clinical input also carries a missing-value mask: its width comes from the model.
  const xClinical = tf.randomNormal([batch, model.inputs[1].shape[1]], 0, 1, 'float32', 2);
  const classes = model.outputs[0].shape[1];
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % classes), 'int32'), classes);
  return (n = batch) => {
    const loss = tf.tidy(() => {
      const [img, cli, lab] = n === batch ? [xImage, xClinical, y] : [xImage.slice(0, n), xClinical.slice(0, n), y.slice(0, n)];
      return optimizer.minimize(() => tf.losses.softmaxCrossEntropy(lab, model.apply([img, cli], { training: true })), true);
    });
    const v = loss.dataSync()[0];
    loss.dispose();
    if (!Number.isFinite(v)) throw new Error(`loss became ${v}`);
  };
}

export async function measure({ model: which, backend, threads, addon, steps, batch, imageSize, windows = 1, warmupSteps = 1, warmupSeconds = 0 }) {
  if (backend === ONNX_CPU_BACKEND) registerOnnxCpuBackend({ threads, addon });
  await tf.setBackend(backend);
  await tf.ready();
  const model = which === 'reference' ? referenceModel(imageSize) : await libraryModel(which, imageSize);
  const flopsPerSample = 3 * forwardFlops(model);
  const step = trainingStep(model, batch, imageSize);
  // Warm-up: one-time costs (the optimizer's slots, onnx-cpu's native sessions) and V8's JIT.
  // TF.js's JS is compiled over the first few hundred steps by V8's compiler threads; on 2 cores
  // those threads take time from the second compute thread and not from a lone one, which
  // understates 2 threads against 1 (measured: ~22 ms/step at 2 threads over the first 5 s, ~17
  // ms after). A job runs thousands of steps, so steady state is the figure: up to warmupSteps
  // steps or warmupSeconds, whichever ends first, after a first step. Pure JS warms up on one
  // sample, as its steps on the larger backbones take minutes; its per-sample cost does not
  // depend on the batch.
  step(backend === 'cpu' ? 1 : batch);
  if (backend !== 'cpu') {
    const t0 = performance.now();
    for (let i = 1; i < warmupSteps && performance.now() - t0 < warmupSeconds * 1000; i++) step();
  }
  // The machine is shared: `windows` runs of `steps` steps, the best one reported (the closest to
  // what the code does on a quiet machine, as the yardstick's best-of), with the median beside it.
  const rates = [];
  for (let w = 0; w < windows; w++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) step();
    rates.push((steps * batch) / ((performance.now() - t0) / 1000));
  }
  rates.sort((a, b) => b - a);
  const nativeConvGflops = which === 'reference' ? measureNativeConvGflops(threads, { repeats: 30 }) : undefined;
  const status = backend === ONNX_CPU_BACKEND ? onnxCpuStatus() : undefined;
  return { samplesPerSecond: rates[0], medianSamplesPerSecond: rates[Math.floor(rates.length / 2)], flopsPerSample, nativeConvGflops, gemm: status?.gemm, addon: status?.addon };
}
