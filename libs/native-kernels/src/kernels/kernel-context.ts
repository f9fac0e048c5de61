import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import type { OnnxElementType, OnnxGraph } from '../onnx/onnx-graph.js';
import type { NhwcAddon } from '../addon/nhwc-addon.js';
import type { NativeArray, NativeDtype, NativeRunner } from '../ort/native-runner.js';

/** The part of TF.js's pure-JS `cpu` backend the native kernels read and write. */
export interface CpuBackendStorage {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: NativeDtype, values: NativeArray): TensorInfo;
}

export interface NativeKernelArgs {
  inputs: NamedTensorInfoMap;
  attrs: NamedAttrMap;
  backend: CpuBackendStorage;
  runner: NativeRunner;
  /** The C++ NHWC kernels when they were built and load here. */
  addon?: NhwcAddon;
}

/**
 * A native kernel returns its outputs, or `undefined` when this call is outside what it handles
 * (a dtype other than float32, a layout or attribute it does not cover, a tensor too small to
 * be worth the call); the pure-JS kernel then runs instead.
 */
export type NativeKernelImpl = (args: NativeKernelArgs) => TensorInfo | TensorInfo[] | undefined;

export interface NativeKernelDef {
  kernelName: string;
  impl: NativeKernelImpl;
}

/** Element count under which an elementwise or reduction call stays in JS: a native call costs ~10 us. */
export const MIN_NATIVE_ELEMENTS = 4096;

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The storage of a float32, int32 or bool tensor, or undefined (complex, string, unexpected storage). */
export function nativeValues(backend: CpuBackendStorage, t: TensorInfo): NativeArray | undefined {
  const v = backend.data.get(t.dataId).values;
  if (t.dtype === 'float32') return v instanceof Float32Array ? v : undefined;
  if (t.dtype === 'int32') return v instanceof Int32Array ? v : undefined;
  if (t.dtype === 'bool') return v instanceof Uint8Array ? v : undefined;
  return undefined;
}

/** The storage of a non-empty float32 tensor, or undefined (what the addon's kernels read). */
export function float32Values(backend: CpuBackendStorage, t: TensorInfo | undefined): Float32Array | undefined {
  if (!t || t.dtype !== 'float32') return undefined;
  const v = nativeValues(backend, t);
  return v instanceof Float32Array && v.length > 0 ? v : undefined;
}

/** A float32 output the addon wrote, counted as a native run of `kernelName`. */
export function addonOutput(args: NativeKernelArgs, kernelName: string, shape: readonly number[], values: Float32Array): TensorInfo {
  args.runner.note(kernelName);
  return args.backend.makeTensorInfo([...shape], 'float32', values);
}

/**
 * Runs one graph; undefined if an input is empty or of another dtype than the graph declares
 * (`inputDtypes`, float32 by default). Outputs are float32 unless `outputDtypes` says otherwise.
 */
export function runGraph(
  args: NativeKernelArgs,
  key: string,
  build: () => OnnxGraph,
  inputs: readonly TensorInfo[],
  outputShapes: readonly number[][],
  outputDtypes: readonly NativeDtype[] = [],
  inputDtypes: readonly NativeDtype[] = [],
): TensorInfo[] | undefined {
  const feeds = [];
  for (const [i, t] of inputs.entries()) {
    if (t.dtype !== (inputDtypes[i] ?? 'float32')) return undefined;
    const data = nativeValues(args.backend, t);
    if (!data || data.length === 0) return undefined;
    feeds.push({ data, dims: t.shape, dtype: t.dtype as NativeDtype });
  }
  if (outputShapes.some((s) => sizeOf(s) === 0)) return undefined;
  const specs = outputShapes.map((dims, i) => ({ dims, dtype: outputDtypes[i] ?? 'float32' }));
  const outs = args.runner.run(key, build, feeds, specs);
  return outs.map((values, i) => args.backend.makeTensorInfo(outputShapes[i]!, specs[i]!.dtype, values));
}

/**
 * Chains a kernel's native implementations (the NHWC addon's first, then onnxruntime's): the
 * first that covers the call runs; calls none covers run the pure-JS kernel.
 */
export function withFallback(defs: readonly NativeKernelDef[], jsKernel: KernelFunc, runner: NativeRunner, addon: NhwcAddon | undefined): KernelFunc {
  return (args) => {
    const native: NativeKernelArgs = { inputs: args.inputs, attrs: args.attrs ?? {}, backend: args.backend as unknown as CpuBackendStorage, runner, addon };
    for (const def of defs) {
      const out = def.impl(native);
      if (out) return out;
    }
    return jsKernel(args);
  };
}

/** Graph input/output value descriptors named as NativeRunner expects (x0.., y0..). */
export const gin = (i: number, dims: readonly number[], type: OnnxElementType = 'float32') => ({ name: `x${i}`, dims, type });
export const gout = (i: number, dims: readonly number[], type: OnnxElementType = 'float32') => ({ name: `y${i}`, dims, type });

export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];
