import { backend_util, type TensorInfo } from '@tensorflow/tfjs';
import type { OnnxGraph } from '../onnx/onnx-graph.js';
import { convGeometry } from './conv-kernels.js';
import { gin, gout, NCHW_TO_NHWC, NHWC_TO_NCHW, runGraph, type NativeKernelDef } from './kernel-context.js';

type Shape4 = [number, number, number, number];

function poolInfo(x: TensorInfo, attrs: Record<string, unknown>): backend_util.Conv2DInfo {
  return backend_util.computePool2DInfo(
    x.shape as Shape4,
    attrs.filterSize as [number, number],
    attrs.strides as [number, number],
    1,
    attrs.pad as Parameters<typeof backend_util.computePool2DInfo>[4],
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
}

function pool(kernelName: 'MaxPool' | 'AvgPool'): NativeKernelDef {
  return {
    kernelName,
    impl: (args) => {
      const { x } = args.inputs as { x: TensorInfo };
      const info = poolInfo(x, args.attrs);
      const g = convGeometry(info);
      const key = `${kernelName}|${x.shape}|${JSON.stringify(g)}`;
      const build = (): OnnxGraph => ({
        inputs: [gin(0, x.shape)],
        outputs: [gout(0, info.outShape)],
        nodes: [
          { op: 'Transpose', inputs: ['x0'], outputs: ['xt'], attrs: { perm: NHWC_TO_NCHW } },
          kernelName === 'MaxPool'
            ? { op: 'MaxPool', inputs: ['xt'], outputs: ['yt'], attrs: { kernel_shape: g.kernel, strides: g.strides, pads: g.pads } }
            : // TF averages over the window's positions inside the input only.
              { op: 'AveragePool', inputs: ['xt'], outputs: ['yt'], attrs: { kernel_shape: g.kernel, strides: g.strides, pads: g.pads, count_include_pad: 0 } },
          { op: 'Transpose', inputs: ['yt'], outputs: ['y0'], attrs: { perm: NCHW_TO_NHWC } },
        ],
      });
      return runGraph(args, key, build, [x], [info.outShape])?.[0];
    },
  };
}

/**
 * Max-pool gradient: MaxPool's Indices output (first maximum of each window in row-major order,
 * the position TF.js's kernel picks too, which matters for all-zero windows after ReLU) scatters
 * dy, summed, into a zero tensor of the input's size.
 */
const maxPoolGrad: NativeKernelDef = {
  kernelName: 'MaxPoolGrad',
  impl: (args) => {
    const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
    const info = poolInfo(input, args.attrs);
    const g = convGeometry(info);
    const [n, h, w, c] = input.shape as Shape4;
    const total = n * h * w * c;
    const key = `MaxPoolGrad|${input.shape}|${JSON.stringify(g)}`;
    const build = (): OnnxGraph => ({
      inputs: [gin(0, dy.shape), gin(1, input.shape)],
      outputs: [gout(0, input.shape)],
      constants: [
        { name: 'flat', dims: [1], type: 'int64', values: [-1] },
        { name: 'zero', dims: [1], type: 'float32', values: [0] },
        { name: 'total', dims: [1], type: 'int64', values: [total] },
        { name: 'nchw', dims: [4], type: 'int64', values: [n, c, h, w] },
      ],
      nodes: [
        { op: 'Transpose', inputs: ['x1'], outputs: ['xt'], attrs: { perm: NHWC_TO_NCHW } },
        { op: 'MaxPool', inputs: ['xt'], outputs: ['pooled', 'idx'], attrs: { kernel_shape: g.kernel, strides: g.strides, pads: g.pads } },
        { op: 'Reshape', inputs: ['idx', 'flat'], outputs: ['idxf'] },
        { op: 'Transpose', inputs: ['x0'], outputs: ['dyt'], attrs: { perm: NHWC_TO_NCHW } },
        { op: 'Reshape', inputs: ['dyt', 'flat'], outputs: ['dyf'] },
        { op: 'Expand', inputs: ['zero', 'total'], outputs: ['zeros'] },
        { op: 'ScatterElements', inputs: ['zeros', 'idxf', 'dyf'], outputs: ['dxf'], attrs: { axis: 0, reduction: 'add' } },
        { op: 'Reshape', inputs: ['dxf', 'nchw'], outputs: ['dxt'] },
        { op: 'Transpose', inputs: ['dxt'], outputs: ['y0'], attrs: { perm: NCHW_TO_NHWC } },
      ],
    });
    return runGraph(args, key, build, [dy, input], [input.shape])?.[0];
  },
};

/**
 * Average-pool gradient: dy spread evenly back over each window by a transposed convolution with
 * a constant kernel per channel. TF.js's kernel divides by the full window size even where the
 * window overlaps padding (its forward pass divides by the in-bounds count); we match TF.js, since
 * the same model must train the same on every backend.
 */
const avgPoolGrad: NativeKernelDef = {
  kernelName: 'AvgPoolGrad',
  impl: (args) => {
    const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
    const info = poolInfo(input, args.attrs);
    const g = convGeometry(info);
    const [, h, w, c] = input.shape as Shape4;
    const [oh, ow] = [info.outHeight, info.outWidth];
    const [kh, kw] = g.kernel as [number, number];
    const outPad = [0, 1].map((a) => [h, w][a]! - (g.strides[a]! * ([oh, ow][a]! - 1) + g.kernel[a]! - g.pads[a]! - g.pads[a + 2]!));
    if (outPad.some((p, a) => p < 0 || p >= g.strides[a]!)) return undefined;
    const key = `AvgPoolGrad|${input.shape}|${JSON.stringify(g)}`;
    const build = (): OnnxGraph => ({
        inputs: [gin(0, dy.shape), gin(1, input.shape)],
        outputs: [gout(0, input.shape)],
        constants: [{ name: 'weights', dims: [c, 1, kh, kw], type: 'float32', values: new Array<number>(c * kh * kw).fill(1 / (kh * kw)) }],
        nodes: [
          { op: 'Transpose', inputs: ['x0'], outputs: ['dyt'], attrs: { perm: NHWC_TO_NCHW } },
          {
            op: 'ConvTranspose',
            inputs: ['dyt', 'weights'],
            outputs: ['dxt'],
            attrs: { kernel_shape: g.kernel, strides: g.strides, pads: g.pads, output_padding: outPad, group: c },
          },
          { op: 'Transpose', inputs: ['dxt'], outputs: ['y0'], attrs: { perm: NCHW_TO_NHWC } },
        ],
      });
    // The input's values are not needed, only its shape; feeding it keeps the runner uniform.
    return runGraph(args, key, build, [dy, input], [input.shape])?.[0];
  },
};

export const POOL_KERNELS: NativeKernelDef[] = [pool('MaxPool'), pool('AvgPool'), maxPoolGrad, avgPoolGrad];
