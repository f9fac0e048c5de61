import { encodeOnnxModel } from './onnx/onnx-graph.js';
import { createSyncSession, ortTensor } from './ort/ort-sync-session.js';

/**
 * GFLOP/s of onnxruntime's own convolution (NCHW, no layout changes) on a representative 3x3
 * layer, on `threads` threads: the yardstick the training benchmark divides by. Input
 * batch x 32 x 32 x 32 channels -> 64 channels, same padding; 2 FLOPs per multiply-add.
 */
export function measureNativeConvGflops(threads: number, options: { batch?: number; repeats?: number } = {}): number {
  const n = options.batch ?? 32;
  const [c, h, w, f, k] = [32, 32, 32, 64, 3];
  const model = encodeOnnxModel({
    inputs: [
      { name: 'x', dims: [n, c, h, w] },
      { name: 'w', dims: [f, c, k, k] },
    ],
    outputs: [{ name: 'y', dims: [n, f, h, w] }],
    nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { kernel_shape: [k, k], pads: [1, 1, 1, 1], strides: [1, 1] } }],
  });
  const session = createSyncSession(model, { threads });
  const x = ortTensor('float32', Float32Array.from({ length: n * c * h * w }, (_, i) => Math.sin(i)), [n, c, h, w]);
  const wt = ortTensor('float32', Float32Array.from({ length: f * c * k * k }, (_, i) => Math.cos(i)), [f, c, k, k]);
  const y = ortTensor('float32', new Float32Array(n * f * h * w), [n, f, h, w]);
  const flops = 2 * n * h * w * f * c * k * k;
  session.run({ x, w: wt }, { y });
  // Best of several runs: the machine is shared, and the best run is the closest to what it can do.
  let best = Infinity;
  for (let i = 0; i < (options.repeats ?? 10); i++) {
    const t0 = performance.now();
    session.run({ x, w: wt }, { y });
    best = Math.min(best, performance.now() - t0);
  }
  session.dispose();
  return flops / (best / 1000) / 1e9;
}
