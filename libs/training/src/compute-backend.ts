import * as tfjs from '@tensorflow/tfjs';
import { ONNX_CPU_BACKEND, onnxCpuStatus, registerOnnxCpuBackend } from '@medfusion/native-kernels';

export type Tf = typeof tfjs;

/**
 * Compute backends in order of preference; the first that loads is used. `onnx-cpu` is the fast
 * CPU path (TF.js's cpu backend with its hot kernels run by onnxruntime-node's native kernels)
 * for machines where the native TF.js binding could not be installed.
 */
export const COMPUTE_BACKENDS = ['tensorflow-gpu', 'tensorflow', ONNX_CPU_BACKEND, 'cpu'] as const;
export type ComputeBackendName = (typeof COMPUTE_BACKENDS)[number];

export interface ComputeBackend {
  tf: Tf;
  name: ComputeBackendName;
  /** CPU threads the backend's kernels use; undefined where the backend manages its own (tensorflow*, pure JS). */
  threads?: number;
  /** The name for the job record and the log, with the thread count where it applies. */
  label: string;
  /** Why the better backends were not used, for the job record and the log. */
  skipped: Array<{ name: ComputeBackendName; reason: string }>;
  /** onnx-cpu: whether its C++ NHWC kernels loaded ('loaded', or why not), for the log. */
  nhwcAddon?: string;
  /** onnx-cpu: instruction set of the addon's convolution/matmul kernels ('avx512', 'avx2', 'none'). */
  gemm?: string;
}

export interface ComputeBackendOptions {
  /** Threads for the fast CPU path (one job per worker slot); default 1. */
  threads?: number;
  /** Registers the fast CPU path; replaceable so tests can make it fail. */
  registerFastPath?: (threads: number) => void;
}

/**
 * Picks the best TF.js backend that loads here: the CUDA binding (tfjs-node-gpu) on GPU nodes, the
 * native CPU binding (tfjs-node), else the onnxruntime-backed `onnx-cpu`, else the pure-JS `cpu`
 * backend. The native TF.js packages are optional dependencies because their install downloads
 * libtensorflow, which fails offline; onnxruntime-node ships its binary inside the npm package.
 */
export async function selectComputeBackend(preferred: ComputeBackendName | 'auto' = 'auto', options: ComputeBackendOptions = {}): Promise<ComputeBackend> {
  const skipped: ComputeBackend['skipped'] = [];
  const threads = options.threads ?? 1;
  const registerFastPath = options.registerFastPath ?? ((n: number) => void registerOnnxCpuBackend({ threads: n }));
  const candidates = preferred === 'auto' ? COMPUTE_BACKENDS : COMPUTE_BACKENDS.slice(COMPUTE_BACKENDS.indexOf(preferred));
  for (const name of candidates) {
    try {
      if (name === 'tensorflow-gpu' || name === 'tensorflow') {
        const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
        const tf = (await import(pkg)) as Tf;
        await tf.setBackend('tensorflow');
        await tf.ready();
        return { tf, name, label: name, skipped };
      }
      if (name === ONNX_CPU_BACKEND) {
        registerFastPath(threads);
        if (!(await tfjs.setBackend(ONNX_CPU_BACKEND))) throw new Error('TF.js could not initialise the onnx-cpu backend');
        await tfjs.ready();
        const status = onnxCpuStatus();
        return { tf: tfjs, name, threads, label: `${name} (${threads} thread${threads === 1 ? '' : 's'})`, skipped, nhwcAddon: status?.addon, gemm: status?.gemm };
      }
      await tfjs.setBackend('cpu');
      await tfjs.ready();
      return { tf: tfjs, name, label: name, skipped };
    } catch (err) {
      skipped.push({ name, reason: (err as Error).message.split('\n')[0] ?? 'failed to load' });
    }
  }
  throw new Error(`no TF.js backend loads here: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}
