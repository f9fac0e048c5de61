import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The optional C++ kernels (addon/nhwc_kernels.cc), called synchronously on TF.js's arrays. */
export interface NhwcAddon {
  /** kind 0: forward (x, w); 1: input gradient (dy, w); 2: filter gradient (x, dy). */
  depthwise(kind: 0 | 1 | 2, geometry: Int32Array, a: Float32Array, b: Float32Array, out: Float32Array): void;
  /**
   * codes (out's length, or null): for 2x2 stride-2 windows tiling x, each window's tap that gets
   * the gradient (TF.js's: the first strictly greater than -inf; 4: none, a window of only NaN or
   * -inf); returns whether it wrote them.
   */
  maxPool(geometry: Int32Array, x: Float32Array, out: Float32Array, codes: Uint32Array | null): boolean;
  /** y: the forward output (windows that tile the input find their maximum's position by equality). */
  maxPoolGrad(geometry: Int32Array, x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /** The same gradient from maxPool's codes; false (nothing written) unless the windows are 2x2, stride 2, tiling the input. */
  maxPoolGradCodes(geometry: Int32Array, codes: Uint32Array, dy: Float32Array, dx: Float32Array): boolean;
  unary(op: number, x: Float32Array, y: Float32Array, alpha: number): void;
  binary(op: number, a: Float32Array, b: Float32Array, y: Float32Array): void;
  /** y = a op b with NumPy broadcasting; spec: [rank, ...outShape, ...aStrides, ...bStrides] (stride 0 where broadcast). */
  binaryBroadcast(op: number, a: Float32Array, b: Float32Array, y: Float32Array, spec: Int32Array): void;
  batchNorm(x: Float32Array, mean: Float32Array, variance: Float32Array, offset: Float32Array, scale: Float32Array, epsilon: number, y: Float32Array): void;
  sum(x: Float32Array, outer: number, reduced: number, inner: number, y: Float32Array): void;
  /**
   * Convolution as a GEMM (addon/conv_gemm.cc). kind 0: forward (x, w) with optional bias and
   * act (0 none, 1 relu); 1: input gradient (dy, w); 2: filter gradient (x, dy). geometry:
   * [N, H, W, C, KH, KW, OH, OW, O, SH, SW, DH, DW, PT, PL].
   */
  conv(kind: 0 | 1 | 2, geometry: Int32Array, a: Float32Array, b: Float32Array, bias: Float32Array | null, act: 0 | 1, out: Float32Array): void;
  /**
   * The filter and bias gradients of a relu conv from dy and its output y (dz = dy * step(y) is
   * never stored); 3x3 filters on one input channel only (throws for other shapes).
   */
  convFilterReluBias(geometry: Int32Array, x: Float32Array, dy: Float32Array, y: Float32Array, dw: Float32Array, db: Float32Array): void;
  /** dz = dy * step(y) and db = the sum of dz over rows of `channels`, in one pass (Sum's values). */
  reluGradBias(dy: Float32Array, y: Float32Array, channels: number, dz: Float32Array, db: Float32Array): void;
  /** shape: [batchA, batchB, M, K, N, transA, transB]; a batch of 1 is shared by every batch. */
  matmul(shape: Int32Array, a: Float32Array, b: Float32Array, bias: Float32Array | null, act: 0 | 1, out: Float32Array): void;
  /** One AdamOptimizer step for one variable, bit-equal to TF.js's ops (see addon/nhwc_kernels.cc). */
  adam(
    value: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, oneMinusAccBeta1: Float32Array, oneMinusAccBeta2: Float32Array,
    beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, epsilon: number, negLearningRate: number,
    newValue: Float32Array, newM: Float32Array, newV: Float32Array,
  ): void;
  /** Threads of the addon's pool for every kernel after this call. */
  setThreads(threads: number): void;
  /**
   * Diagnostics for tests: one parallel_for of `worker.length` tasks that each spin `workNs`
   * nanoseconds on the pool; fills the worker that ran each task and its start order (-1: never ran).
   */
  poolTrace(workNs: number, worker: Int32Array, order: Int32Array): void;
  /** The instruction set of the GEMM kernels: 'avx512', 'avx2', or 'none' (conv/matmul unavailable). */
  gemmIsa(): 'avx512' | 'avx2' | 'none';
}

/** Op codes of `unary` and `binary`, in the order of the addon's enums. */
export const UNARY_OP = { Relu: 0, Relu6: 1, Step: 2, Neg: 3, Abs: 4, Square: 5, Sqrt: 6, Rsqrt: 7, Exp: 8, Log: 9, Sigmoid: 10, Tanh: 11, Elu: 12, Reciprocal: 13, LeakyRelu: 14 } as const;
/** ReluGrad: a * step(b), TF.js's relu gradient (dy * step(x)) in one pass. */
export const BINARY_OP = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, SquaredDifference: 6, ReluGrad: 7 } as const;

// Same place from src/addon (Jest) and dist/addon (built code): the package's dist/native.
const ADDON_PATH = fileURLToPath(new URL('../../dist/native/nhwc_kernels.node', import.meta.url));

let loaded: { addon: NhwcAddon } | { reason: string } | undefined;

/** The addon, or why it is not available (not built here: no compiler or Node headers). */
export function loadNhwcAddon(): { addon: NhwcAddon } | { reason: string } {
  if (loaded) return loaded;
  if (!existsSync(ADDON_PATH)) {
    loaded = { reason: `${ADDON_PATH} is missing (npm run build compiles it; it needs a C++ compiler and Node's headers)` };
    return loaded;
  }
  try {
    const addon = createRequire(import.meta.url)(ADDON_PATH) as NhwcAddon;
    if (typeof addon.depthwise !== 'function' || typeof addon.conv !== 'function' || typeof addon.gemmIsa !== 'function' || typeof addon.reluGradBias !== 'function' || typeof addon.maxPoolGradCodes !== 'function') throw new Error('unexpected exports (rebuild it)');
    loaded = { addon };
  } catch (err) {
    loaded = { reason: `${ADDON_PATH} does not load: ${(err as Error).message.split('\n')[0]}` };
  }
  return loaded;
}
