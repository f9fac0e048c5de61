import { util, type TensorInfo } from '@tensorflow/tfjs';
import { ONNX_TYPE, type OnnxGraph } from '../onnx/onnx-graph.js';
import { gin, gout, MIN_NATIVE_ELEMENTS, runGraph, sizeOf, type NativeKernelDef } from './kernel-context.js';

/** Sum, Mean, Max and Min over the given axes (the bias gradient, batch-norm moments, pooling). */
function reduction(kernelName: 'Sum' | 'Mean' | 'Max' | 'Min', onnxOp: string): NativeKernelDef {
  return {
    kernelName,
    impl: (args) => {
      const { x } = args.inputs as { x: TensorInfo };
      if (x.dtype !== 'float32' || sizeOf(x.shape) < MIN_NATIVE_ELEMENTS) return undefined;
      // TF.js names the axes `reductionIndices` for Max only.
      const axisAttr = kernelName === 'Max' ? args.attrs.reductionIndices : args.attrs.axis;
      const axes = util.parseAxisParam(axisAttr as number | number[], x.shape);
      const keepDims = args.attrs.keepDims === true;
      const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const outShape = keepDims ? keptShape : x.shape.filter((_, i) => !axes.includes(i));
      if (axes.length === 0) return undefined;
      const exact = kernelName === 'Max' || kernelName === 'Min';
      const key = `${kernelName}|${x.shape}|${axes}|${keepDims}`;
      const build = (): OnnxGraph => ({
        inputs: [gin(0, x.shape)],
        outputs: [gout(0, outShape)],
        constants: [{ name: 'axes', dims: [axes.length], type: 'int64', values: axes }],
        nodes: exact
          ? [{ op: onnxOp, inputs: ['x0', 'axes'], outputs: ['y0'], attrs: { keepdims: keepDims ? 1 : 0 } }]
          : [
              // Sums accumulate in float64, as TF.js's JS kernels do (JS numbers): a float32
              // accumulator over a batch's activations drifts ~1e-6, which batch norm's moments
              // carry into every layer after it.
              { op: 'Cast', inputs: ['x0'], outputs: ['xd'], attrs: { to: ONNX_TYPE.float64 } },
              { op: onnxOp, inputs: ['xd', 'axes'], outputs: ['yd'], attrs: { keepdims: keepDims ? 1 : 0 } },
              { op: 'Cast', inputs: ['yd'], outputs: ['y0'], attrs: { to: ONNX_TYPE.float32 } },
            ],
      });
      return runGraph(args, key, build, [x], [outShape])?.[0];
    },
  };
}

export const REDUCTION_KERNELS: NativeKernelDef[] = [
  reduction('Sum', 'ReduceSum'),
  reduction('Mean', 'ReduceMean'),
  reduction('Max', 'ReduceMax'),
  reduction('Min', 'ReduceMin'),
];
