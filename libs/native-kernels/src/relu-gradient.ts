import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, Tensor, TensorInfo } from '@tensorflow/tfjs';
import { overrideGradient } from './gradient-override.js';
import { RELU_GRAD_KERNEL } from './kernels/addon-kernels.js';
import type { CpuBackendStorage } from './kernels/kernel-context.js';

/**
 * TF.js's Relu gradient is mul(dy, cast(step(x))): two full passes over every activation and a
 * temporary as large. On onnx-cpu it is one kernel, `ReluGrad` (a: dy, b: x), with the same
 * values: dy * step(x), where step(NaN) is NaN. Other backends and non-float32 tensors keep the
 * original function.
 */
export function installReluGradient(backendName: string): void {
  overrideGradient('Relu', backendName, (dy, [x]) =>
    x!.dtype === 'float32' && dy.dtype === 'float32' ? { x: () => tf.engine().runKernel(RELU_GRAD_KERNEL, { a: dy, b: x! }) as Tensor } : undefined,
  );
}

/** step(x) as TF.js's relu gradient uses it: 1 above zero, 0 otherwise, NaN for NaN. */
const reluStep = (v: number): number => (v !== v ? v : v > 0 ? 1 : 0);

/** ReluGrad in JS, for calls the addon does not take (no addon, tiny tensors). */
export const reluGradJs: KernelFunc = ({ inputs, backend }) => {
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const storage = backend as unknown as CpuBackendStorage;
  const dy = storage.data.get(a.dataId).values as Float32Array;
  const x = storage.data.get(b.dataId).values as Float32Array;
  const out = new Float32Array(dy.length);
  for (let i = 0; i < out.length; i++) out[i] = dy[i]! * reluStep(x[i]!);
  return storage.makeTensorInfo([...a.shape], 'float32', out);
};

/** ReluGradBias (dz = dy * step(y), db = sum of dz over all but the last axis) in JS, for calls the addon does not take. */
export const reluGradBiasJs: KernelFunc = ({ inputs, backend }) => {
  const { dy, y } = inputs as { dy: TensorInfo; y: TensorInfo };
  const storage = backend as unknown as CpuBackendStorage;
  const g = storage.data.get(dy.dataId).values as Float32Array;
  const yv = storage.data.get(y.dataId).values as Float32Array;
  const channels = dy.shape[dy.shape.length - 1] ?? 1;
  const dz = new Float32Array(g.length);
  const sums = new Float64Array(channels);
  for (let i = 0; i < dz.length; i++) {
    dz[i] = g[i]! * reluStep(yv[i]!);
    sums[i % channels] += dz[i]!;
  }
  return [storage.makeTensorInfo([...dy.shape], 'float32', dz), storage.makeTensorInfo([channels], 'float32', Float32Array.from(sums))];
};
