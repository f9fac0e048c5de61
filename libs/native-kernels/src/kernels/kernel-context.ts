import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import type { OnnxGraph } from '../onnx/onnx-graph.js';
import type { NativeRunner } from '../ort/native-runner.js';

/** The part of TF.js's pure-JS `cpu` backend the native kernels read and write. */
export interface CpuBackendStorage {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}

export interface NativeKernelArgs {
  inputs: NamedTensorInfoMap;
  attrs: NamedAttrMap;
  backend: CpuBackendStorage;
  runner: NativeRunner;
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

/** The float32 storage of a tensor, or undefined if it is not float32 (int, bool, complex, string). */
export function floatValues(backend: CpuBackendStorage, t: TensorInfo): Float32Array | undefined {
  if (t.dtype !== 'float32') return undefined;
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : undefined;
}

/** Runs one graph on float32 tensors; undefined if any input is not float32 or empty. */
export function runGraph(
  args: NativeKernelArgs,
  key: string,
  build: () => OnnxGraph,
  inputs: readonly TensorInfo[],
  outputShapes: readonly number[][],
): TensorInfo[] | undefined {
  const feeds = [];
  for (const t of inputs) {
    const data = floatValues(args.backend, t);
    if (!data || data.length === 0) return undefined;
    feeds.push({ data, dims: t.shape });
  }
  if (outputShapes.some((s) => sizeOf(s) === 0)) return undefined;
  const outs = args.runner.run(key, build, feeds, outputShapes);
  return outs.map((values, i) => args.backend.makeTensorInfo(outputShapes[i]!, 'float32', values));
}

/** Wraps a native kernel so calls it does not cover run the pure-JS kernel. */
export function withFallback(def: NativeKernelDef, jsKernel: KernelFunc, runner: NativeRunner): KernelFunc {
  return (args) => {
    const out = def.impl({
      inputs: args.inputs,
      attrs: args.attrs ?? {},
      backend: args.backend as unknown as CpuBackendStorage,
      runner,
    });
    return out ?? jsKernel(args);
  };
}

/** Graph input/output value descriptors named as NativeRunner expects (x0.., y0..). */
export const gin = (i: number, dims: readonly number[]) => ({ name: `x${i}`, dims });
export const gout = (i: number, dims: readonly number[]) => ({ name: `y${i}`, dims });

export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];
