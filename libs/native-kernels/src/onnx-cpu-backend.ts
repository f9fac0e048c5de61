import * as tf from '@tensorflow/tfjs';
import type { KernelBackend, KernelFunc } from '@tensorflow/tfjs';
import { BATCH_NORM_KERNELS } from './kernels/batch-norm-kernel.js';
import { COMPARISON_KERNELS } from './kernels/comparison-kernels.js';
import { CONV_KERNELS } from './kernels/conv-kernels.js';
import { ADD_N_KERNEL, ELEMENTWISE_KERNELS } from './kernels/elementwise-kernels.js';
import { withFallback, type NativeKernelDef } from './kernels/kernel-context.js';
import { LAYOUT_KERNELS } from './kernels/layout-kernels.js';
import { MATMUL_KERNELS } from './kernels/matmul-kernels.js';
import { POOL_KERNELS } from './kernels/pool-kernels.js';
import { REDUCTION_KERNELS } from './kernels/reduction-kernels.js';
import { NativeRunner } from './ort/native-runner.js';
import { probeOnnxRuntime } from './ort/ort-sync-session.js';

/** The TF.js backend name of the fast CPU path, as recorded in a job's `backend`. */
export const ONNX_CPU_BACKEND = 'onnx-cpu';

/** Every kernel this backend runs natively (the rest are the pure-JS cpu kernels). */
export const NATIVE_KERNELS: readonly NativeKernelDef[] = [
  ...CONV_KERNELS,
  ...MATMUL_KERNELS,
  ...POOL_KERNELS,
  ...BATCH_NORM_KERNELS,
  ...ELEMENTWISE_KERNELS,
  ADD_N_KERNEL,
  ...REDUCTION_KERNELS,
  ...COMPARISON_KERNELS,
  ...LAYOUT_KERNELS,
];

let state: { runner: NativeRunner } | undefined;

/**
 * Registers `onnx-cpu`: TF.js's pure-JS cpu backend (same tensor storage, every cpu kernel) with
 * the kernels that dominate training (convolutions and their gradients, matmul, pooling, batch
 * norm, elementwise and reductions) run by onnxruntime's native CPU kernels. Calls a native kernel
 * does not cover (int tensors, tiny tensors, unusual attributes) run the JS kernel.
 *
 * Idempotent; a later call with another thread count rebuilds the native sessions with it. Throws
 * with the reason when onnxruntime-node's binding does not load here.
 */
export function registerOnnxCpuBackend(options: { threads: number }): NativeRunner {
  if (state) {
    if (state.runner.threads !== options.threads) {
      state.runner.dispose();
      state.runner = new NativeRunner(options.threads);
    }
    return state.runner;
  }
  const probe = probeOnnxRuntime();
  if (!probe.ok) throw new Error(probe.reason);
  const cpuFactory = tf.findBackendFactory('cpu');
  if (!cpuFactory) throw new Error('TF.js cpu backend is not registered; import @tensorflow/tfjs first');
  const runner = new NativeRunner(options.threads);
  state = { runner };
  const holder = state;
  // Priority 0: registering must not change which backend TF.js picks by default.
  tf.registerBackend(ONNX_CPU_BACKEND, () => cpuFactory() as KernelBackend, 0);
  const native = new Map(NATIVE_KERNELS.map((k) => [k.kernelName, k]));
  for (const config of tf.getKernelsForBackend('cpu')) {
    const def = native.get(config.kernelName);
    const kernelFunc: KernelFunc = def ? routed(def, config.kernelFunc, holder) : config.kernelFunc;
    tf.registerKernel({ ...config, backendName: ONNX_CPU_BACKEND, kernelFunc });
  }
  return runner;
}

/** Looks the runner up per call, so a thread-count change reaches kernels already registered. */
function routed(def: NativeKernelDef, jsKernel: KernelFunc, holder: { runner: NativeRunner }): KernelFunc {
  let bound = holder.runner;
  let fn = withFallback(def, jsKernel, bound);
  return (args) => {
    if (holder.runner !== bound) {
      bound = holder.runner;
      fn = withFallback(def, jsKernel, bound);
    }
    return fn(args);
  };
}

/** The runner of the registered backend (its per-op call counts), if registered. */
export function onnxCpuRunner(): NativeRunner | undefined {
  return state?.runner;
}
