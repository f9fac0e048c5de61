import type { TensorInfo } from '@tensorflow/tfjs';
import { UNARY_OP, type NhwcAddon } from '../addon/nhwc-addon.js';
import { conv2dInfo, nhwc } from './conv-kernels.js';
import { addonOutput, float32Values, sizeOf, type NativeKernelArgs, type NativeKernelDef } from './kernel-context.js';

/**
 * Convolutions and matrix multiplies served by the addon's GEMMs (addon/conv_gemm.cc), straight
 * on TF.js's NHWC and row-major arrays: no layout transposes, the filter gradient as a reduction
 * over pixels, bias and relu fused into the output, work split over COMPUTE_THREADS threads.
 * Each returns undefined where it does not apply (no addon or no AVX2 here, another dtype or
 * layout, strided input gradients, unusual broadcasting), and the onnxruntime kernel runs.
 */

/** Multiply-adds under which a matmul stays in JS (the addon call costs about a microsecond). */
const MIN_ADDON_MACS = 2048;

type Shape4 = [number, number, number, number];

function gemmAddon(args: NativeKernelArgs): NhwcAddon | undefined {
  return args.addon && args.addon.gemmIsa() !== 'none' ? args.addon : undefined;
}

/** Activations applied after the GEMM: relu is fused into it (act 1), the others run as one addon pass. */
const ACTIVATIONS: Record<string, { fused: 0 | 1; after?: number }> = {
  linear: { fused: 0 },
  relu: { fused: 1 },
  relu6: { fused: 0, after: UNARY_OP.Relu6 },
  elu: { fused: 0, after: UNARY_OP.Elu },
  sigmoid: { fused: 0, after: UNARY_OP.Sigmoid },
  leakyrelu: { fused: 0, after: UNARY_OP.LeakyRelu },
};

function activationOf(attrs: Record<string, unknown>): { fused: 0 | 1; after?: number; alpha: number } | undefined {
  const name = (attrs.activation as string | undefined) ?? 'linear';
  const act = ACTIVATIONS[name];
  return act && { ...act, alpha: (attrs.leakyreluAlpha as number | undefined) ?? 0.2 };
}

/** [N, H, W, C, KH, KW, OH, OW, O, SH, SW, DH, DW, PT, PL] as the addon's conv reads it. */
function convGeometry(xShape: readonly number[], filterShape: readonly number[], attrs: Record<string, unknown>): Int32Array {
  const info = conv2dInfo(xShape, filterShape, attrs, false);
  return Int32Array.from([
    info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.filterHeight, info.filterWidth,
    info.outHeight, info.outWidth, info.outChannels, info.strideHeight, info.strideWidth,
    info.dilationHeight, info.dilationWidth, info.padInfo.top, info.padInfo.left,
  ]);
}

function convForward(kernelName: 'Conv2D' | 'FusedConv2D'): NativeKernelDef {
  return {
    kernelName,
    impl: (args) => {
      const addon = gemmAddon(args);
      const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
      const xv = float32Values(args.backend, x);
      const wv = float32Values(args.backend, filter);
      if (!addon || !x || !filter || !xv || !wv || preluActivationWeights || !nhwc(args.attrs)) return undefined;
      const act = activationOf(args.attrs);
      const bv = bias ? float32Values(args.backend, bias) : undefined;
      if (!act || (bias && bv?.length !== filter.shape[3])) return undefined;
      const geo = convGeometry(x.shape, filter.shape, args.attrs);
      const outShape = [geo[0]!, geo[6]!, geo[7]!, geo[8]!];
      const y = args.runner.pool.alloc(sizeOf(outShape));
      addon.conv(0, geo, xv, wv, bv ?? null, act.fused, y);
      if (act.after !== undefined) addon.unary(act.after, y, y, act.alpha);
      return addonOutput(args, kernelName, outShape, y);
    },
  };
}

const convBackpropInput: NativeKernelDef = {
  kernelName: 'Conv2DBackpropInput',
  impl: (args) => {
    const addon = gemmAddon(args);
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const dyv = float32Values(args.backend, dy);
    const wv = float32Values(args.backend, filter);
    if (!addon || !dyv || !wv || !nhwc(args.attrs)) return undefined;
    const inShape = args.attrs.inputShape as Shape4;
    const geo = convGeometry(inShape, filter.shape, args.attrs);
    // A strided input gradient would multiply mostly zeros (stride^2 x the work): onnxruntime's
    // ConvTranspose does those.
    if (geo[9] !== 1 || geo[10] !== 1) return undefined;
    const dx = args.runner.pool.alloc(sizeOf(inShape));
    addon.conv(1, geo, dyv, wv, null, 0, dx);
    return addonOutput(args, 'Conv2DBackpropInput', inShape, dx);
  },
};

const convBackpropFilter: NativeKernelDef = {
  kernelName: 'Conv2DBackpropFilter',
  impl: (args) => {
    const addon = gemmAddon(args);
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const xv = float32Values(args.backend, x);
    const dyv = float32Values(args.backend, dy);
    if (!addon || !xv || !dyv || !nhwc(args.attrs)) return undefined;
    const filterShape = args.attrs.filterShape as Shape4;
    const dw = args.runner.pool.alloc(sizeOf(filterShape));
    addon.conv(2, convGeometry(x.shape, filterShape, args.attrs), xv, dyv, null, 0, dw);
    return addonOutput(args, 'Conv2DBackpropFilter', filterShape, dw);
  },
};

/**
 * Inputs x, dy, y (the conv's relu output); attrs of Conv2DBackpropFilter; outputs [dw, db]: the
 * filter and bias gradients of a relu conv without forming dy * step(y) (onnx-cpu only). The
 * addon serves 3x3 filters on one input channel (a grayscale image's first layer).
 */
export const CONV_FILTER_RELU_BIAS_KERNEL = 'MedfusionConvFilterReluBias';

const convFilterReluBias: NativeKernelDef = {
  kernelName: CONV_FILTER_RELU_BIAS_KERNEL,
  impl: (args) => {
    const addon = gemmAddon(args);
    const { x, dy, y } = args.inputs as { x: TensorInfo; dy: TensorInfo; y: TensorInfo };
    const [xv, dyv, yv] = [float32Values(args.backend, x), float32Values(args.backend, dy), float32Values(args.backend, y)];
    const filterShape = args.attrs.filterShape as Shape4;
    if (!addon || !xv || !dyv || !yv || !nhwc(args.attrs) || !oneChannel3x3(filterShape)) return undefined;
    const dw = args.runner.pool.alloc(sizeOf(filterShape));
    const db = new Float32Array(filterShape[3]);
    addon.convFilterReluBias(convGeometry(x.shape, filterShape, args.attrs), xv, dyv, yv, dw, db);
    return [addonOutput(args, CONV_FILTER_RELU_BIAS_KERNEL, filterShape, dw), args.backend.makeTensorInfo([filterShape[3]], 'float32', db)];
  },
};

/** The filters convFilterReluBias's addon kernel takes: [3, 3, 1, O]. */
export const oneChannel3x3 = (filterShape: readonly number[]): boolean => filterShape[0] === 3 && filterShape[1] === 3 && filterShape[2] === 1;

function matmul(kernelName: 'BatchMatMul' | '_FusedMatMul'): NativeKernelDef {
  return {
    kernelName,
    impl: (args) => {
      const addon = gemmAddon(args);
      const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
      const av = float32Values(args.backend, a);
      const bv = float32Values(args.backend, b);
      if (!addon || !a || !b || !av || !bv || preluActivationWeights || a.shape.length < 2 || b.shape.length < 2) return undefined;
      const ta = args.attrs.transposeA === true;
      const tb = args.attrs.transposeB === true;
      const [ra, rb] = [a.shape.length, b.shape.length];
      const m = ta ? a.shape[ra - 1]! : a.shape[ra - 2]!;
      const k = ta ? a.shape[ra - 2]! : a.shape[ra - 1]!;
      const n = tb ? b.shape[rb - 2]! : b.shape[rb - 1]!;
      const batchA = sizeOf(a.shape.slice(0, -2));
      const batchB = sizeOf(b.shape.slice(0, -2));
      const batchShape = batchA >= batchB ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
      const batch = Math.max(batchA, batchB);
      // The addon broadcasts a whole operand (batch 1) only; anything else goes to onnxruntime.
      if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return undefined;
      if (batchA === batch && batchB === batch && a.shape.slice(0, -2).join() !== b.shape.slice(0, -2).join()) return undefined;
      if (batch * m * n * k < MIN_ADDON_MACS) return undefined;
      const act = kernelName === '_FusedMatMul' ? activationOf(args.attrs) : { fused: 0 as const, alpha: 0 };
      const biasV = bias ? float32Values(args.backend, bias) : undefined;
      if (!act || (bias && (biasV?.length !== n || bias.shape[bias.shape.length - 1] !== n))) return undefined;
      const y = args.runner.pool.alloc(batch * m * n);
      addon.matmul(Int32Array.from([batchA, batchB, m, k, n, ta ? 1 : 0, tb ? 1 : 0]), av, bv, biasV ?? null, act.fused, y);
      if (act.after !== undefined) addon.unary(act.after, y, y, act.alpha);
      return addonOutput(args, kernelName, [...batchShape, m, n], y);
    },
  };
}

export const GEMM_KERNELS: NativeKernelDef[] = [
  convForward('Conv2D'),
  convForward('FusedConv2D'),
  convBackpropInput,
  convBackpropFilter,
  convFilterReluBias,
  matmul('BatchMatMul'),
  matmul('_FusedMatMul'),
];
