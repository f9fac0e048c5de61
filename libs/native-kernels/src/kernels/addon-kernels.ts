import { engine, backend_util, util, type TensorInfo } from '@tensorflow/tfjs';
import { BINARY_OP, UNARY_OP, type NhwcAddon } from '../addon/nhwc-addon.js';
import { conv2dInfo, nhwc } from './conv-kernels.js';
import { broadcastShapes } from './elementwise-kernels.js';
import { addonOutput, float32Values, sizeOf, type NativeKernelDef } from './kernel-context.js';

/**
 * Kernels served by the C++ NHWC addon (addon/nhwc_kernels.cc): depthwise convolutions and their
 * gradients, max pooling and its gradient, and single-pass elementwise ops, batch norm and sums.
 * Each returns undefined where it does not apply (no addon, another dtype or layout, shapes whose
 * broadcasting is not a simple cycle), and the onnxruntime kernel or the JS kernel runs.
 */

/**
 * Element counts under which a call stays in JS (the addon call itself costs about a microsecond):
 * same-shape passes are cheap loops in JS, but TF.js's broadcasting binary ops and its reductions
 * over other than the last axis index element by element (~0.5 us each), so those come to the
 * addon from a few dozen elements (a clinical MLP's [8, 32] batch norm, a [1, 32] scale).
 */
const MIN_ADDON_ELEMENTS = 256;
const MIN_ADDON_BROADCAST_ELEMENTS = 32;

type Shape4 = [number, number, number, number];

/** [N, H, W, C, KH, KW, M, OH, OW, SH, SW, DH, DW, PT, PL] as the addon reads it. */
function geometry(info: backend_util.Conv2DInfo, multiplier: number): Int32Array {
  return Int32Array.from([
    info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.filterHeight, info.filterWidth, multiplier,
    info.outHeight, info.outWidth, info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
    info.padInfo.top, info.padInfo.left,
  ]);
}

const ACTIVATIONS: Record<string, { op: number; alpha?: number } | null> = {
  linear: null,
  relu: { op: UNARY_OP.Relu },
  relu6: { op: UNARY_OP.Relu6 },
  elu: { op: UNARY_OP.Elu },
  sigmoid: { op: UNARY_OP.Sigmoid },
  leakyrelu: { op: UNARY_OP.LeakyRelu },
};

function depthwiseForward(kernelName: string): NativeKernelDef {
  return {
    kernelName,
    impl: (args) => {
      const { addon } = args;
      const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
      const xv = float32Values(args.backend, x);
      const wv = float32Values(args.backend, filter);
      if (!addon || !x || !filter || !xv || !wv || preluActivationWeights || !nhwc(args.attrs)) return undefined;
      const activation = (args.attrs.activation as string | undefined) ?? 'linear';
      if (!(activation in ACTIVATIONS)) return undefined;
      const info = conv2dInfo(x.shape, filter.shape, args.attrs, true);
      const bv = bias ? float32Values(args.backend, bias) : undefined;
      if (bias && (!bv || bv.length !== info.outChannels)) return undefined;
      const out = args.runner.pool.alloc(sizeOf(info.outShape));
      addon.depthwise(0, geometry(info, filter.shape[3]!), xv, wv, out);
      if (bv) addon.binary(BINARY_OP.Add, out, bv, out);
      const act = ACTIVATIONS[activation];
      if (act) addon.unary(act.op, out, out, act.op === UNARY_OP.LeakyRelu ? ((args.attrs.leakyreluAlpha as number | undefined) ?? 0.2) : 0);
      return addonOutput(args, kernelName, info.outShape, out);
    },
  };
}

const depthwiseBackpropInput: NativeKernelDef = {
  kernelName: 'DepthwiseConv2dNativeBackpropInput',
  impl: (args) => {
    const { addon } = args;
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const dyv = float32Values(args.backend, dy);
    const wv = float32Values(args.backend, filter);
    if (!addon || !dyv || !wv || !nhwc(args.attrs)) return undefined;
    const inShape = args.attrs.inputShape as number[];
    const info = conv2dInfo(inShape, filter.shape, args.attrs, true);
    const dx = args.runner.pool.alloc(sizeOf(inShape));
    addon.depthwise(1, geometry(info, filter.shape[3]!), dyv, wv, dx);
    return addonOutput(args, 'DepthwiseConv2dNativeBackpropInput', inShape, dx);
  },
};

const depthwiseBackpropFilter: NativeKernelDef = {
  kernelName: 'DepthwiseConv2dNativeBackpropFilter',
  impl: (args) => {
    const { addon } = args;
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const xv = float32Values(args.backend, x);
    const dyv = float32Values(args.backend, dy);
    if (!addon || !xv || !dyv || !nhwc(args.attrs)) return undefined;
    const filterShape = args.attrs.filterShape as number[];
    const info = conv2dInfo(x.shape, filterShape, args.attrs, true);
    const dw = args.runner.pool.alloc(sizeOf(filterShape));
    addon.depthwise(2, geometry(info, filterShape[3]!), xv, dyv, dw);
    return addonOutput(args, 'DepthwiseConv2dNativeBackpropFilter', filterShape, dw);
  },
};

function poolInfo(shape: number[], attrs: Record<string, unknown>): backend_util.Conv2DInfo {
  return backend_util.computePool2DInfo(
    shape as Shape4,
    attrs.filterSize as [number, number],
    attrs.strides as [number, number],
    1,
    attrs.pad as Parameters<typeof backend_util.computePool2DInfo>[4],
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
}

// Max pooling over 2x2 windows tiling the input also records which tap of each window holds the
// maximum (a word per output element, attached to the output); the gradient then reads those and
// dy instead of x and y (for the first pooling of the reference model: 2 + 2 MB instead of
// 8 + 2 + 2 MB), with the same values. Other windows, or codes that are gone, take x and y.
const maxPool: NativeKernelDef = {
  kernelName: 'MaxPool',
  impl: (args) => {
    const { addon } = args;
    const { x } = args.inputs as { x: TensorInfo };
    const xv = float32Values(args.backend, x);
    if (!addon || !x || !xv) return undefined;
    const info = poolInfo(x.shape, args.attrs);
    const n = sizeOf(info.outShape);
    const y = args.runner.pool.alloc(n);
    // Codes only while a gradient tape records (inference never reads them).
    const codes = engine().state.gradientDepth > 0 ? args.runner.pool.allocNote(n) : null;
    const wrote = addon.maxPool(geometry(info, 1), xv, y, codes);
    if (codes && wrote) args.runner.pool.attachNote(y, xv, codes);
    else if (codes) args.runner.pool.returnNote(codes);
    return addonOutput(args, 'MaxPool', info.outShape, y);
  },
};

const maxPoolGrad: NativeKernelDef = {
  kernelName: 'MaxPoolGrad',
  impl: (args) => {
    const { addon } = args;
    const { dy, input, output: pooled } = args.inputs as { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
    const dyv = float32Values(args.backend, dy);
    const xv = float32Values(args.backend, input);
    const yv = float32Values(args.backend, pooled);
    if (!addon || !dyv || !xv || !yv) return undefined;
    const info = poolInfo(input.shape, args.attrs);
    const dx = args.runner.pool.alloc(xv.length);
    const g = geometry(info, 1);
    const codes = args.runner.pool.noteOf(yv, xv);
    if (!codes || !addon.maxPoolGradCodes(g, codes, dyv, dx)) addon.maxPoolGrad(g, xv, yv, dyv, dx);
    return addonOutput(args, 'MaxPoolGrad', input.shape, dx);
  },
};

function unary(kernelName: keyof typeof UNARY_OP | 'ClipByValue'): NativeKernelDef {
  return {
    kernelName,
    impl: (args) => {
      const { addon } = args;
      const { x } = args.inputs as { x: TensorInfo };
      const xv = float32Values(args.backend, x);
      if (!addon || !xv || xv.length < MIN_ADDON_ELEMENTS || kernelName === 'ClipByValue') return undefined;
      const y = args.runner.pool.alloc(xv.length);
      const alpha = kernelName === 'Step' || kernelName === 'LeakyRelu' ? ((args.attrs.alpha as number | undefined) ?? 0) : 0;
      addon.unary(UNARY_OP[kernelName], xv, y, alpha);
      return addonOutput(args, kernelName, x.shape, y);
    },
  };
}

/** A tensor of `shape` cycles through `out` exactly as broadcasting would: its shape, leading 1s dropped, is a suffix of out's. */
function cycles(shape: readonly number[], out: readonly number[]): boolean {
  const s = [...shape];
  while (s.length > 0 && s[0] === 1) s.shift();
  return s.length <= out.length && s.every((d, i) => d === out[out.length - s.length + i]);
}

/** The relu gradient, dy * step(x), in one pass (see relu-gradient.ts); registered for onnx-cpu only. */
export const RELU_GRAD_KERNEL = 'ReluGrad';
/**
 * Inputs dy, y (a relu's output, last axis channels); outputs [dz, db]: dz = dy * step(y) and db
 * = sum(dz) over every axis but the last: a relu conv's bias gradient in the same pass (onnx-cpu only).
 */
export const RELU_GRAD_BIAS_KERNEL = 'MedfusionReluGradBias';

const reluGradBias: NativeKernelDef = {
  kernelName: RELU_GRAD_BIAS_KERNEL,
  impl: (args) => {
    const { addon } = args;
    const { dy, y } = args.inputs as { dy: TensorInfo; y: TensorInfo };
    const dyv = float32Values(args.backend, dy);
    const yv = float32Values(args.backend, y);
    const channels = dy.shape[dy.shape.length - 1] ?? 0;
    if (!addon || !dyv || !yv || yv.length !== dyv.length || channels < 1 || dyv.length < MIN_ADDON_ELEMENTS) return undefined;
    const dz = args.runner.pool.alloc(dyv.length);
    const db = new Float32Array(channels);
    addon.reluGradBias(dyv, yv, channels, dz, db);
    return [addonOutput(args, RELU_GRAD_BIAS_KERNEL, dy.shape, dz), args.backend.makeTensorInfo([channels], 'float32', db)];
  },
};

function binary(kernelName: keyof typeof BINARY_OP): NativeKernelDef {
  return {
    kernelName,
    impl: (args) => {
      const { addon } = args;
      const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
      const av = float32Values(args.backend, a);
      const bv = float32Values(args.backend, b);
      if (!addon || !av || !bv) return undefined;
      const outShape = broadcastShapes(a.shape, b.shape);
      if (!outShape) return undefined;
      const n = sizeOf(outShape);
      if (n < (av.length === n && bv.length === n ? MIN_ADDON_ELEMENTS : MIN_ADDON_BROADCAST_ELEMENTS)) return undefined;
      const cycled = (av.length === n || cycles(a.shape, outShape)) && (bv.length === n || cycles(b.shape, outShape)) && (av.length === n || bv.length === n);
      if (!cycled && outShape.length > 8) return undefined;
      const y = args.runner.pool.alloc(n);
      if (!cycled) {
        // Any other broadcasting ([8, 1] with [8, 2], [8, 1, 1, 8] with [8, 8, 8, 8]): strided.
        const strides = (shape: readonly number[]) => {
          const padded = [...Array(outShape.length - shape.length).fill(1), ...shape];
          const out = new Array<number>(padded.length);
          let s = 1;
          for (let d = padded.length - 1; d >= 0; d--) {
            out[d] = padded[d] === 1 ? 0 : s;
            s *= padded[d]!;
          }
          return out;
        };
        addon.binaryBroadcast(BINARY_OP[kernelName], av, bv, y, Int32Array.from([outShape.length, ...outShape, ...strides(a.shape), ...strides(b.shape)]));
        return addonOutput(args, kernelName, outShape, y);
      }
      addon.binary(BINARY_OP[kernelName], av, bv, y);
      return addonOutput(args, kernelName, outShape, y);
    },
  };
}

const ONE = new Float32Array([1]);
const ZERO = new Float32Array([0]);

const batchNorm: NativeKernelDef = {
  kernelName: 'FusedBatchNorm',
  impl: (args) => {
    const { addon } = args;
    const { x, mean, variance, offset, scale } = args.inputs as Record<string, TensorInfo | undefined>;
    const xv = float32Values(args.backend, x);
    const mv = float32Values(args.backend, mean);
    const vv = float32Values(args.backend, variance);
    const ov = offset ? float32Values(args.backend, offset) : ZERO;
    const sv = scale ? float32Values(args.backend, scale) : ONE;
    if (!addon || !x || !xv || !mv || !vv || !ov || !sv || xv.length < MIN_ADDON_ELEMENTS) return undefined;
    const y = args.runner.pool.alloc(xv.length);
    addon.batchNorm(xv, mv, vv, ov, sv, (args.attrs.varianceEpsilon as number | undefined) ?? 0.001, y);
    return addonOutput(args, 'FusedBatchNorm', x.shape, y);
  },
};

/** Sum and Mean over a contiguous run of axes (bias gradients, batch-norm moments, pooling). */
function reduction(kernelName: 'Sum' | 'Mean'): NativeKernelDef {
  return {
    kernelName,
    impl: (args) => {
      const { addon } = args;
      const { x } = args.inputs as { x: TensorInfo };
      const xv = float32Values(args.backend, x);
      if (!addon || !xv || xv.length < MIN_ADDON_BROADCAST_ELEMENTS) return undefined;
      const axes = util.parseAxisParam(args.attrs.axis as number | number[], x.shape).sort((p, q) => p - q);
      if (axes.length === 0) return undefined;
      // Axes of size 1 change nothing: without them the reduced axes must be one contiguous run
      // (the Tile gradient sums [1, 8, 1, 65, 192, 1] over axes 0, 2, 4: really one axis).
      const kept = x.shape.map((_, i) => i).filter((i) => x.shape[i]! > 1);
      const reducedKept = kept.filter((i) => axes.includes(i)).map((i) => kept.indexOf(i));
      const shape = kept.map((i) => x.shape[i]!);
      if (reducedKept.some((ax, i) => i > 0 && ax !== reducedKept[i - 1]! + 1)) return undefined;
      const first = reducedKept[0] ?? shape.length;
      const last = reducedKept[reducedKept.length - 1] ?? shape.length - 1;
      const outer = sizeOf(shape.slice(0, first));
      const reduced = sizeOf(shape.slice(first, last + 1));
      const inner = sizeOf(shape.slice(last + 1));
      const y = args.runner.pool.alloc(outer * inner);
      addon.sum(xv, outer, reduced, inner, y);
      // TF.js's Mean divides the float32 sum by the float32 count.
      if (kernelName === 'Mean') for (let i = 0; i < y.length; i++) y[i] = Math.fround(y[i]! / reduced);
      const outShape = args.attrs.keepDims === true ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
      return addonOutput(args, kernelName, outShape, y);
    },
  };
}

export const ADDON_KERNELS: NativeKernelDef[] = [
  depthwiseForward('DepthwiseConv2dNative'),
  depthwiseForward('FusedDepthwiseConv2D'),
  depthwiseBackpropInput,
  depthwiseBackpropFilter,
  maxPoolGrad,
  ...(Object.keys(UNARY_OP) as Array<keyof typeof UNARY_OP>).map(unary),
  maxPool,
  ...(Object.keys(BINARY_OP) as Array<keyof typeof BINARY_OP>).filter((op) => op !== RELU_GRAD_KERNEL).map(binary),
  batchNorm,
  reduction('Sum'),
  reduction('Mean'),
  // Inputs a: dy, b: x (the relu's input).
  binary(RELU_GRAD_KERNEL),
  reluGradBias,
];

export type { NhwcAddon };
