import * as tf from '@tensorflow/tfjs';
import type { KernelBackend, KernelFunc } from '@tensorflow/tfjs';
import { loadNhwcAddon, type NhwcAddon } from './addon/nhwc-addon.js';
import { ADDON_KERNELS, RELU_GRAD_BIAS_KERNEL, RELU_GRAD_KERNEL } from './kernels/addon-kernels.js';
import { BATCH_NORM_KERNELS } from './kernels/batch-norm-kernel.js';
import { COMPARISON_KERNELS } from './kernels/comparison-kernels.js';
import { CONV_KERNELS } from './kernels/conv-kernels.js';
import { ADD_N_KERNEL, ELEMENTWISE_KERNELS, SOFTMAX_KERNEL } from './kernels/elementwise-kernels.js';
import { CONV_FILTER_RELU_BIAS_KERNEL, GEMM_KERNELS } from './kernels/gemm-kernels.js';
import { withFallback, type NativeKernelDef } from './kernels/kernel-context.js';
import { LAYOUT_KERNELS } from './kernels/layout-kernels.js';
import { MATMUL_KERNELS } from './kernels/matmul-kernels.js';
import { POOL_KERNELS } from './kernels/pool-kernels.js';
import { REDUCTION_KERNELS } from './kernels/reduction-kernels.js';
import { attachPool, Float32Pool } from './ort/float32-pool.js';
import { NativeRunner } from './ort/native-runner.js';
import { probeOnnxRuntime } from './ort/ort-sync-session.js';
import { ADAM_KERNEL, adamKernel, installFusedAdam } from './fused-adam.js';
import { convFilterReluBiasComposed, FUSED_CONV_TRAINING_KERNEL, fusedConvTrainingKernel, installFusedConvTraining } from './fused-conv-training.js';
import { installReluGradient, reluGradBiasJs, reluGradJs } from './relu-gradient.js';
import { installMeanGradient, installTileGradient } from './tile-mean-gradients.js';

/** The TF.js backend name of the fast CPU path, as recorded in a job's `backend`. */
export const ONNX_CPU_BACKEND = 'onnx-cpu';

/** Every kernel this backend runs with onnxruntime (the rest are the pure-JS cpu kernels). */
export const NATIVE_KERNELS: readonly NativeKernelDef[] = [
  ...CONV_KERNELS,
  ...MATMUL_KERNELS,
  ...POOL_KERNELS,
  ...BATCH_NORM_KERNELS,
  ...ELEMENTWISE_KERNELS,
  ADD_N_KERNEL,
  SOFTMAX_KERNEL,
  ...REDUCTION_KERNELS,
  ...COMPARISON_KERNELS,
  ...LAYOUT_KERNELS,
];

/** Kernels the C++ addon serves first when it is built (addon/conv_gemm.cc, addon/nhwc_kernels.cc). */
export const NATIVE_ADDON_KERNELS: readonly NativeKernelDef[] = [...GEMM_KERNELS, ...ADDON_KERNELS];

export interface OnnxCpuOptions {
  threads: number;
  /** Use the C++ NHWC addon where it applies (default true); false: onnxruntime kernels only. */
  addon?: boolean;
}

export interface OnnxCpuStatus {
  /** Instruction set of the addon's convolution/matmul GEMMs ('avx512', 'avx2'); 'none' without the addon or AVX2. */
  gemm: string;
  threads: number;
  /** 'loaded', 'disabled', or why the addon is not available. */
  addon: string;
}

let state: { runner: NativeRunner; addon: NhwcAddon | undefined; addonStatus: string; threads: number } | undefined;

/**
 * onnxruntime's threads per session. With the addon's GEMMs the heavy kernels run on the addon's
 * pool, which holds `threads` cores; onnxruntime's own pool would wake its threads on the same
 * cores for the small kernels left to it (measured: a 2-thread step slower than a 1-thread one),
 * so it gets one thread then.
 */
function ortThreads(threads: number, addon: NhwcAddon | undefined): number {
  return addon && addon.gemmIsa() !== 'none' ? 1 : threads;
}

/**
 * Registers `onnx-cpu`: TF.js's pure-JS cpu backend (same tensor storage, every cpu kernel) with
 * the kernels that dominate training (convolutions and their gradients, matmul, pooling, batch
 * norm, elementwise and reductions) run by onnxruntime's native CPU kernels. Calls a native kernel
 * does not cover (int tensors, tiny tensors, unusual attributes) run the JS kernel.
 *
 * Idempotent; a later call with another thread count rebuilds the native sessions with it. Throws
 * with the reason when onnxruntime-node's binding does not load here.
 */
export function registerOnnxCpuBackend(options: OnnxCpuOptions): NativeRunner {
  const addon = resolveAddon(options.addon ?? true);
  addon.addon?.setThreads(options.threads);
  const sessionThreads = ortThreads(options.threads, addon.addon);
  if (state) {
    if (state.runner.threads !== sessionThreads) {
      state.runner.dispose();
      state.runner = new NativeRunner(sessionThreads, state.runner.pool);
    }
    state.addon = addon.addon;
    state.addonStatus = addon.status;
    state.threads = options.threads;
    return state.runner;
  }
  const probe = probeOnnxRuntime();
  if (!probe.ok) throw new Error(probe.reason);
  const cpuFactory = tf.findBackendFactory('cpu');
  if (!cpuFactory) throw new Error('TF.js cpu backend is not registered; import @tensorflow/tfjs first');
  const runner = new NativeRunner(sessionThreads, new Float32Pool());
  state = { runner, addon: addon.addon, addonStatus: addon.status, threads: options.threads };
  const holder = state;
  // Priority 0: registering must not change which backend TF.js picks by default.
  tf.registerBackend(
    ONNX_CPU_BACKEND,
    () => {
      const backend = cpuFactory() as KernelBackend;
      attachPool(backend as unknown as Parameters<typeof attachPool>[0], runner.pool);
      return backend;
    },
    0,
  );
  const native = new Map<string, NativeKernelDef[]>();
  for (const def of [...NATIVE_ADDON_KERNELS, ...NATIVE_KERNELS]) native.set(def.kernelName, [...(native.get(def.kernelName) ?? []), def]);
  for (const config of tf.getKernelsForBackend('cpu')) {
    const defs = native.get(config.kernelName);
    const kernelFunc: KernelFunc = defs ? routed(defs, config.kernelFunc, holder) : config.kernelFunc;
    tf.registerKernel({ ...config, backendName: ONNX_CPU_BACKEND, kernelFunc });
  }
  // Kernels of this backend only (no cpu counterpart): the one-pass relu gradient, with the bias
  // gradient, and a relu conv's filter and bias gradients from dy.
  tf.registerKernel({ kernelName: RELU_GRAD_KERNEL, backendName: ONNX_CPU_BACKEND, kernelFunc: routed(native.get(RELU_GRAD_KERNEL) ?? [], reluGradJs, holder) });
  tf.registerKernel({ kernelName: RELU_GRAD_BIAS_KERNEL, backendName: ONNX_CPU_BACKEND, kernelFunc: routed(native.get(RELU_GRAD_BIAS_KERNEL) ?? [], reluGradBiasJs, holder) });
  tf.registerKernel({
    kernelName: CONV_FILTER_RELU_BIAS_KERNEL,
    backendName: ONNX_CPU_BACKEND,
    kernelFunc: routed(native.get(CONV_FILTER_RELU_BIAS_KERNEL) ?? [], convFilterReluBiasComposed(ONNX_CPU_BACKEND), holder),
  });
  tf.registerKernel({ kernelName: FUSED_CONV_TRAINING_KERNEL, backendName: ONNX_CPU_BACKEND, kernelFunc: fusedConvTrainingKernel(ONNX_CPU_BACKEND) });
  tf.registerKernel({ kernelName: ADAM_KERNEL, backendName: ONNX_CPU_BACKEND, kernelFunc: adamKernel(() => holder.addon, runner.pool, (name) => holder.runner.note(name)) });
  installTileGradient(ONNX_CPU_BACKEND);
  installMeanGradient(ONNX_CPU_BACKEND);
  installReluGradient(ONNX_CPU_BACKEND);
  installFusedAdam(ONNX_CPU_BACKEND);
  installFusedConvTraining(ONNX_CPU_BACKEND);
  return runner;
}

function resolveAddon(wanted: boolean): { addon: NhwcAddon | undefined; status: string } {
  if (!wanted) return { addon: undefined, status: 'disabled' };
  const loaded = loadNhwcAddon();
  return 'addon' in loaded ? { addon: loaded.addon, status: 'loaded' } : { addon: undefined, status: loaded.reason };
}

/** Looks the runner and addon up per call, so a later registration's options reach kernels already registered. */
function routed(defs: NativeKernelDef[], jsKernel: KernelFunc, holder: { runner: NativeRunner; addon: NhwcAddon | undefined }): KernelFunc {
  let bound = { runner: holder.runner, addon: holder.addon };
  let fn = withFallback(defs, jsKernel, bound.runner, bound.addon);
  return (args) => {
    if (holder.runner !== bound.runner || holder.addon !== bound.addon) {
      bound = { runner: holder.runner, addon: holder.addon };
      fn = withFallback(defs, jsKernel, bound.runner, bound.addon);
    }
    return fn(args);
  };
}

/** Threads and NHWC addon state of the registered backend, for the job log. */
export function onnxCpuStatus(): OnnxCpuStatus | undefined {
  return state && { threads: state.threads, addon: state.addonStatus, gemm: state.addon?.gemmIsa() ?? 'none' };
}

/** The runner of the registered backend (its per-op call counts), if registered. */
export function onnxCpuRunner(): NativeRunner | undefined {
  return state?.runner;
}
