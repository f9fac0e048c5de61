import { backend_util, type TensorInfo } from '@tensorflow/tfjs';
import type { OnnxConstant, OnnxGraph, OnnxNode } from '../onnx/onnx-graph.js';
import { activationNodes } from './activation-graph.js';
import { gin, gout, NCHW_TO_NHWC, NHWC_TO_NCHW, runGraph, sizeOf, type NativeKernelDef } from './kernel-context.js';

type Shape4 = [number, number, number, number];
type Pad = Parameters<typeof backend_util.computeConv2DInfo>[4];
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/** HWIO (TF.js filters) to OIHW (ONNX Conv weights). */
const HWIO_TO_OIHW = [3, 2, 0, 1];

export interface ConvGeometry {
  pads: number[];
  strides: number[];
  dilations: number[];
  kernel: number[];
}

export function convGeometry(info: backend_util.Conv2DInfo): ConvGeometry {
  const p = info.padInfo;
  return {
    pads: [p.top, p.left, p.bottom, p.right],
    strides: [info.strideHeight, info.strideWidth],
    dilations: [info.dilationHeight, info.dilationWidth],
    kernel: [info.filterHeight, info.filterWidth],
  };
}

/** TF.js conv/pool attributes name NHWC in several ways (absent, 'NHWC', 'channelsLast'). */
export function nhwc(attrs: { dataFormat?: unknown }): boolean {
  return attrs.dataFormat === undefined || attrs.dataFormat === 'NHWC' || attrs.dataFormat === 'channelsLast';
}

/** The forward convolution (plain or fused with bias and activation), NHWC in and out. */
function forwardConv(
  kernelName: string,
  x: TensorInfo,
  filter: TensorInfo,
  bias: TensorInfo | undefined,
  info: backend_util.Conv2DInfo,
  activation: string | undefined,
  leakyAlpha: number | undefined,
  depthwise: boolean,
): { key: string; build: () => OnnxGraph; inputs: TensorInfo[] } | undefined {
  const outChannels = info.outChannels;
  if (bias && sizeOf(bias.shape) !== outChannels) return undefined;
  const act = activationNodes(activation, leakyAlpha, 'yt_pre', 'yt');
  if (!act) return undefined;
  const g = convGeometry(info);
  const inC = filter.shape[2]!;
  const key = `${kernelName}|${x.shape}|${filter.shape}|${bias ? 'b' : ''}|${JSON.stringify(g)}|${activation}|${leakyAlpha}`;
  const build = (): OnnxGraph => {
    const weights = weightNodes(filter.shape, depthwise);
    const nodes: OnnxNode[] = [{ op: 'Transpose', inputs: ['x0'], outputs: ['xt'], attrs: { perm: NHWC_TO_NCHW } }, ...weights.nodes];
    const constants: OnnxConstant[] = [...act.constants, ...weights.constants];
    nodes.push({
      op: 'Conv',
      inputs: bias ? ['xt', 'wt', 'b'] : ['xt', 'wt'],
      outputs: ['yt_pre'],
      attrs: { pads: g.pads, strides: g.strides, dilations: g.dilations, kernel_shape: g.kernel, group: depthwise ? inC : 1 },
    });
    if (bias) nodes.unshift({ op: 'Reshape', inputs: ['x2', 'bshape'], outputs: ['b'] });
    if (bias) constants.push({ name: 'bshape', dims: [1], type: 'int64', values: [outChannels] });
    nodes.push(...act.nodes);
    nodes.push({ op: 'Transpose', inputs: ['yt'], outputs: ['y0'], attrs: { perm: NCHW_TO_NHWC } });
    const inputs = [gin(0, x.shape), gin(1, filter.shape)];
    if (bias) inputs.push(gin(2, bias.shape));
    return { inputs, outputs: [gout(0, info.outShape)], nodes, constants };
  };
  return { key, build, inputs: bias ? [x, filter, bias] : [x, filter] };
}

/** TF.js's convolution geometry for an input shape, a filter shape and a kernel's attributes. */
export function conv2dInfo(xShape: readonly number[], filterShape: readonly number[], attrs: Record<string, unknown>, depthwise: boolean): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    xShape as Shape4,
    filterShape as Shape4,
    attrs.strides as [number, number],
    (attrs.dilations ?? 1) as number | [number, number],
    attrs.pad as Pad,
    attrs.dimRoundingMode as Rounding,
    depthwise,
  );
}

/**
 * Nodes turning the TF.js filter input `x1` into ONNX Conv/ConvTranspose weights `wt`: HWIO ->
 * OIHW, or for depthwise [kh, kw, C, m] -> [C, m, kh, kw] -> [C*m, 1, kh, kw] (output channel
 * c*m+q, as in TF).
 */
function weightNodes(filterShape: readonly number[], depthwise: boolean): { nodes: OnnxNode[]; constants: OnnxConstant[] } {
  if (!depthwise) return { nodes: [{ op: 'Transpose', inputs: ['x1'], outputs: ['wt'], attrs: { perm: HWIO_TO_OIHW } }], constants: [] };
  const [kh, kw, inC, mult] = filterShape as Shape4;
  return {
    nodes: [
      { op: 'Transpose', inputs: ['x1'], outputs: ['wt4'], attrs: { perm: [2, 3, 0, 1] } },
      { op: 'Reshape', inputs: ['wt4', 'wshape'], outputs: ['wt'] },
    ],
    constants: [{ name: 'wshape', dims: [4], type: 'int64', values: [inC * mult, 1, kh, kw] }],
  };
}

/** Conv2D and DepthwiseConv2dNative, and their fused forms (bias, activation). */
function forwardKernel(kernelName: string, depthwise: boolean): NativeKernelDef {
  return {
    kernelName,
    impl: (args) => {
      const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
      if (!x || !filter || preluActivationWeights || !nhwc(args.attrs)) return undefined;
      const info = conv2dInfo(x.shape, filter.shape, args.attrs, depthwise);
      const spec = forwardConv(kernelName, x, filter, bias, info, args.attrs.activation as string, args.attrs.leakyreluAlpha as number, depthwise);
      return spec && runGraph(args, spec.key, spec.build, spec.inputs, [info.outShape])?.[0];
    },
  };
}

/**
 * Input gradient: a transposed convolution of dy with the same weights. output_padding restores
 * the rows/columns the forward convolution's stride skipped at the end.
 */
function backpropInput(kernelName: string, depthwise: boolean): NativeKernelDef {
  return {
    kernelName,
    impl: (args) => {
      const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
      if (!nhwc(args.attrs)) return undefined;
      const inShape = args.attrs.inputShape as Shape4;
      const info = conv2dInfo(inShape, filter.shape, args.attrs, depthwise);
      const g = convGeometry(info);
      const inC = filter.shape[2]!;
      const outPad = [0, 1].map((a) => {
        const extent = (g.kernel[a]! - 1) * g.dilations[a]! + 1;
        return inShape[a + 1]! - (g.strides[a]! * (info.outShape[a + 1]! - 1) + extent - g.pads[a]! - g.pads[a + 2]!);
      });
      if (outPad.some((p, a) => p < 0 || p >= Math.max(g.strides[a]!, g.dilations[a]!))) return undefined;
      const key = `${kernelName}|${dy.shape}|${filter.shape}|${inShape}|${JSON.stringify(g)}`;
      const build = (): OnnxGraph => {
        // ConvTranspose weights are [in=O, out=I, kh, kw]: the forward convolution's weight layout.
        const { nodes: weightLayout, constants } = weightNodes(filter.shape, depthwise);
        const nodes: OnnxNode[] = [{ op: 'Transpose', inputs: ['x0'], outputs: ['dyt'], attrs: { perm: NHWC_TO_NCHW } }, ...weightLayout];
        nodes.push({
          op: 'ConvTranspose',
          inputs: ['dyt', 'wt'],
          outputs: ['dxt'],
          attrs: { pads: g.pads, strides: g.strides, dilations: g.dilations, kernel_shape: g.kernel, output_padding: outPad, group: depthwise ? inC : 1 },
        });
        nodes.push({ op: 'Transpose', inputs: ['dxt'], outputs: ['y0'], attrs: { perm: NCHW_TO_NHWC } });
        return { inputs: [gin(0, dy.shape), gin(1, filter.shape)], outputs: [gout(0, inShape)], nodes, constants };
      };
      return runGraph(args, key, build, [dy, filter], [inShape])?.[0];
    },
  };
}

/**
 * Filter gradient as a convolution: the input with batch and channels swapped, convolved with
 * dy (batch and channels swapped) as the kernel, dilated by the forward stride. Depthwise uses
 * groups so each input channel meets only its own output channels.
 */
function backpropFilter(kernelName: string, depthwise: boolean): NativeKernelDef {
  return {
    kernelName,
    impl: (args) => {
      const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
      if (!nhwc(args.attrs)) return undefined;
      const filterShape = args.attrs.filterShape as Shape4;
      const info = conv2dInfo(x.shape, filterShape, args.attrs, depthwise);
      const g = convGeometry(info);
      const [n, h, w, c] = x.shape as Shape4;
      const [, oh, ow] = dy.shape as Shape4;
      const [kh, kw, , mult] = filterShape;
      // Padding at the end so that the "output" is exactly kh x kw; negative means crop x.
      const endPad = [0, 1].map((a) => (g.kernel[a]! - 1) * g.dilations[a]! + ([oh, ow][a]! - 1) * g.strides[a]! + 1 - [h, w][a]! - g.pads[a]!);
      const crop = endPad.some((p) => p < 0);
      const key = `${kernelName}|${x.shape}|${dy.shape}|${filterShape}|${JSON.stringify(g)}`;
      const build = (): OnnxGraph => {
        const constants: OnnxConstant[] = [];
        const nodes: OnnxNode[] = [];
        // x: NHWC -> [C, N, H, W] (batch C, channels N); depthwise: [1, C*N, H, W], groups of N.
        nodes.push({ op: 'Transpose', inputs: ['x0'], outputs: ['xs'], attrs: { perm: [3, 0, 1, 2] } });
        let xin = 'xs';
        if (depthwise) {
          nodes.push({ op: 'Reshape', inputs: ['xs', 'xshape'], outputs: ['xg'] });
          constants.push({ name: 'xshape', dims: [4], type: 'int64', values: [1, c * n, h, w] });
          xin = 'xg';
        }
        if (crop) {
          const ends = [0, 1].map((a) => [h, w][a]! + Math.min(0, endPad[a]!));
          nodes.push({ op: 'Slice', inputs: [xin, 'starts', 'ends', 'axes'], outputs: ['xc'] });
          constants.push({ name: 'starts', dims: [2], type: 'int64', values: [0, 0] });
          constants.push({ name: 'ends', dims: [2], type: 'int64', values: ends });
          constants.push({ name: 'axes', dims: [2], type: 'int64', values: [2, 3] });
          xin = 'xc';
        }
        // dy: NHWC -> [OC, N, oh, ow] as the kernel.
        nodes.push({ op: 'Transpose', inputs: ['x1'], outputs: ['dys'], attrs: { perm: [3, 0, 1, 2] } });
        nodes.push({
          op: 'Conv',
          inputs: [xin, 'dys'],
          outputs: ['gw'],
          attrs: {
            pads: [g.pads[0]!, g.pads[1]!, Math.max(0, endPad[0]!), Math.max(0, endPad[1]!)],
            strides: g.dilations,
            dilations: g.strides,
            kernel_shape: [oh, ow],
            group: depthwise ? c : 1,
          },
        });
        if (depthwise) {
          // [1, C*m, kh, kw] -> [C, m, kh, kw] -> [kh, kw, C, m]
          nodes.push({ op: 'Reshape', inputs: ['gw', 'gshape'], outputs: ['gw4'] });
          constants.push({ name: 'gshape', dims: [4], type: 'int64', values: [c, mult, kh, kw] });
          nodes.push({ op: 'Transpose', inputs: ['gw4'], outputs: ['y0'], attrs: { perm: [2, 3, 0, 1] } });
        } else {
          // [C, OC, kh, kw] -> [kh, kw, C, OC]
          nodes.push({ op: 'Transpose', inputs: ['gw'], outputs: ['y0'], attrs: { perm: [2, 3, 0, 1] } });
        }
        return { inputs: [gin(0, x.shape), gin(1, dy.shape)], outputs: [gout(0, filterShape)], nodes, constants };
      };
      return runGraph(args, key, build, [x, dy], [filterShape])?.[0];
    },
  };
}

export const CONV_KERNELS: NativeKernelDef[] = [
  forwardKernel('Conv2D', false),
  forwardKernel('FusedConv2D', false),
  backpropInput('Conv2DBackpropInput', false),
  backpropFilter('Conv2DBackpropFilter', false),
  forwardKernel('DepthwiseConv2dNative', true),
  forwardKernel('FusedDepthwiseConv2D', true),
  backpropInput('DepthwiseConv2dNativeBackpropInput', true),
  backpropFilter('DepthwiseConv2dNativeBackpropFilter', true),
];
