import { backend_util, slice_util, util, type TensorInfo } from '@tensorflow/tfjs';
import type { OnnxGraph } from '../onnx/onnx-graph.js';
import type { NativeArray, NativeDtype } from '../ort/native-runner.js';
import { gin, gout, MIN_NATIVE_ELEMENTS, nativeValues, runGraph, sizeOf, type NativeKernelArgs, type NativeKernelDef } from './kernel-context.js';

/**
 * Data movement on float32 tensors: batch norm's gradient tiles its statistics, DenseNet
 * concatenates feature maps (and splits the gradient back), ResNet pads. TF.js's JS versions
 * index element by element through generic strided loops.
 */

const int64 = (name: string, values: readonly number[]) => ({ name, dims: [values.length], type: 'int64' as const, values });

/** A new array for `n` elements of `like`'s type (float32 from the pool). */
function outputLike(args: NativeKernelArgs, like: NativeArray, n: number): NativeArray {
  return like instanceof Float32Array ? args.runner.pool.alloc(n) : like instanceof Int32Array ? new Int32Array(n) : new Uint8Array(n);
}

/** Repeats out[start, start + block) `times` times in place (doubling copies: log2(times) calls). */
function repeatBlock(out: NativeArray, start: number, block: number, times: number): number {
  const total = block * times;
  for (let done = block; done < total; done *= 2) out.copyWithin(start + done, start, start + Math.min(done, total - done));
  return start + total;
}

/**
 * Tile as block copies: along each axis the first repetition is built (recursively, from its
 * source rows) and the others are copies of it. TF.js's JS Tile computes every element's source
 * index (~0.3 us each); a copy per output row was ~60 ns a row (2,048 rows of 64 for global
 * average pooling's gradient).
 */
const tile: NativeKernelDef = {
  kernelName: 'Tile',
  impl: (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const values = nativeValues(args.backend, x);
    const reps = args.attrs.reps as number[];
    if (!values || x.shape.length === 0 || reps.length !== x.shape.length) return undefined;
    const shape = x.shape;
    const rank = shape.length;
    const outShape = shape.map((d, i) => d * reps[i]!);
    const out = outputLike(args, values, sizeOf(outShape));
    if (out.length === 0) return undefined;
    const strides = util.computeStrides([...shape]);
    // Writes the output block of axes d.. whose source starts at `src`; returns the end position.
    const write = (d: number, src: number, pos: number): number => {
      const start = pos;
      if (d === rank - 1) {
        const last = shape[d]!;
        if (last === 1) {
          // A column broadcast along the last axis (layer norm's [B, T, 1] statistics): one fill.
          out.fill(values[src]! as never, pos, pos + reps[d]!);
          return pos + reps[d]!;
        }
        if (last < 16) for (let e = 0; e < last; e++) out[pos + e] = values[src + e]!;
        else out.set(values.subarray(src, src + last) as never, pos);
        return repeatBlock(out, start, last, reps[d]!);
      }
      for (let j = 0; j < shape[d]!; j++) pos = write(d + 1, src + j * strides[d]!, pos);
      return repeatBlock(out, start, pos - start, reps[d]!);
    };
    write(0, 0, 0);
    args.runner.note('Tile');
    return args.backend.makeTensorInfo(outShape, x.dtype as NativeDtype, out);
  },
};

const transpose: NativeKernelDef = {
  kernelName: 'Transpose',
  impl: (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const perm = args.attrs.perm as number[];
    if (sizeOf(x.shape) < MIN_NATIVE_ELEMENTS) return undefined;
    const outShape = perm.map((p) => x.shape[p]!);
    const key = `Transpose|${x.shape}|${perm}`;
    const build = (): OnnxGraph => ({
      inputs: [gin(0, x.shape)],
      outputs: [gout(0, outShape)],
      nodes: [{ op: 'Transpose', inputs: ['x0'], outputs: ['y0'], attrs: { perm } }],
    });
    return runGraph(args, key, build, [x], [outShape])?.[0];
  },
};

/** Concat as run copies: per index of the axes before `axis`, each input's block in turn. */
const concat: NativeKernelDef = {
  kernelName: 'Concat',
  impl: (args) => {
    const list = Object.values(args.inputs as Record<string, TensorInfo>);
    const first = list[0];
    if (!first || list.length < 2 || list.some((t) => t.shape.length !== first.shape.length || t.dtype !== first.dtype || t.shape.length === 0)) return undefined;
    const arrays = list.map((t) => nativeValues(args.backend, t));
    if (arrays.some((v) => !v)) return undefined;
    const axis = util.parseAxisParam(args.attrs.axis as number, first.shape)[0]!;
    const outShape = first.shape.map((d, i) => (i === axis ? list.reduce((n, t) => n + t.shape[axis]!, 0) : d));
    const out = outputLike(args, arrays[0]!, sizeOf(outShape));
    if (out.length === 0) return undefined;
    const outer = sizeOf(first.shape.slice(0, axis));
    const blocks = list.map((t) => sizeOf(t.shape.slice(axis)));
    let pos = 0;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < list.length; i++) {
        const block = blocks[i]!;
        out.set(arrays[i]!.subarray(o * block, (o + 1) * block) as never, pos);
        pos += block;
      }
    }
    args.runner.note('Concat');
    return args.backend.makeTensorInfo(outShape, first.dtype as NativeDtype, out);
  },
};

/**
 * Copies the box [begin, begin + size) of a row-major tensor as runs of contiguous elements
 * (trailing axes the box spans whole merge into one run). TF.js's own slice reads element by
 * element through a TensorBuffer unless the box is a prefix along axis 0: about 1 ms for a
 * [32, 96] split, which every concatenation's gradient pays.
 */
function sliceRuns<T extends NativeArray>(values: T, shape: readonly number[], begin: readonly number[], size: readonly number[], out: T): T {
  const rank = shape.length;
  let inner = rank - 1;
  let run = size[inner] ?? 1;
  while (inner > 0 && begin[inner] === 0 && size[inner] === shape[inner]) {
    inner--;
    run *= size[inner]!;
  }
  const strides = util.computeStrides([...shape]);
  const stride = (axis: number) => (axis === rank - 1 ? 1 : strides[axis]!);
  const index = begin.slice(0, inner);
  let pos = 0;
  const runs = sizeOf(size.slice(0, inner));
  for (let r = 0; r < runs; r++) {
    let offset = begin[inner]! * stride(inner);
    for (let axis = 0; axis < inner; axis++) offset += index[axis]! * stride(axis);
    out.set(values.subarray(offset, offset + run), pos);
    pos += run;
    // Odometer over the outer axes of the box.
    for (let axis = inner - 1; axis >= 0; axis--) {
      if (++index[axis]! < begin[axis]! + size[axis]!) break;
      index[axis] = begin[axis]!;
    }
  }
  return out;
}

function sliceTensor(args: NativeKernelArgs, kernelName: string, x: TensorInfo, begin: readonly number[], size: readonly number[]): TensorInfo | undefined {
  const values = nativeValues(args.backend, x);
  if (!values || x.shape.length === 0) return undefined;
  const out = outputLike(args, values, sizeOf(size));
  args.runner.note(kernelName);
  return args.backend.makeTensorInfo([...size], x.dtype as NativeDtype, sliceRuns(values, x.shape, begin, size, out as typeof values));
}

const splitV: NativeKernelDef = {
  kernelName: 'SplitV',
  impl: (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const axis = util.parseAxisParam(args.attrs.axis as number, x.shape)[0]!;
    const sizes = backend_util.prepareSplitSize(x as never, args.attrs.numOrSizeSplits as number | number[], axis);
    if (sizes.some((s) => s === 0) || !nativeValues(args.backend, x)) return undefined;
    const begin = x.shape.map(() => 0);
    return sizes.map((s) => {
      const out = sliceTensor(args, 'SplitV', x, begin, x.shape.map((d, i) => (i === axis ? s : d)))!;
      begin[axis]! += s;
      return out;
    });
  },
};

const slice: NativeKernelDef = {
  kernelName: 'Slice',
  impl: (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const [begin, size] = slice_util.parseSliceParams(x as never, args.attrs.begin as number[], args.attrs.size as number[]);
    if (sizeOf(size) === 0) return undefined;
    return sliceTensor(args, 'Slice', x, begin, size);
  },
};

const padV2: NativeKernelDef = {
  kernelName: 'PadV2',
  impl: (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const paddings = args.attrs.paddings as Array<[number, number]>;
    const value = (args.attrs.constantValue as number | undefined) ?? 0;
    const outShape = x.shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
    if (sizeOf(outShape) < MIN_NATIVE_ELEMENTS) return undefined;
    const key = `PadV2|${x.shape}|${paddings}|${value}`;
    const build = (): OnnxGraph => ({
      inputs: [gin(0, x.shape)],
      outputs: [gout(0, outShape)],
      constants: [int64('pads', [...paddings.map((p) => p[0]), ...paddings.map((p) => p[1])]), { name: 'value', dims: [], type: 'float32', values: [value] }],
      nodes: [{ op: 'Pad', inputs: ['x0', 'pads', 'value'], outputs: ['y0'], attrs: { mode: 'constant' } }],
    });
    return runGraph(args, key, build, [x], [outShape])?.[0];
  },
};

export const LAYOUT_KERNELS: NativeKernelDef[] = [tile, transpose, concat, splitV, slice, padV2];
