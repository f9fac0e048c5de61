import type { TensorInfo } from '@tensorflow/tfjs';
import type { OnnxGraph, OnnxNode } from '../onnx/onnx-graph.js';
import { ONNX_TYPE } from '../onnx/onnx-graph.js';
import { broadcastShapes } from './elementwise-kernels.js';
import { gin, gout, MIN_NATIVE_ELEMENTS, runGraph, sizeOf, type NativeKernelDef } from './kernel-context.js';

/**
 * Comparisons, masks and casts: the gradients of relu6, minimum/maximum and clipping build
 * bool masks and cast them to float. bool tensors are one byte per element, as in TF.js.
 */
function comparison(kernelName: string, nodes: (a: string, b: string) => OnnxNode[]): NativeKernelDef {
  return {
    kernelName,
    impl: (args) => {
      const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
      const outShape = broadcastShapes(a.shape, b.shape);
      if (!outShape || sizeOf(outShape) < MIN_NATIVE_ELEMENTS) return undefined;
      const key = `${kernelName}|${a.shape}|${b.shape}`;
      const build = (): OnnxGraph => ({ inputs: [gin(0, a.shape), gin(1, b.shape)], outputs: [gout(0, outShape, 'bool')], nodes: nodes('x0', 'x1') });
      return runGraph(args, key, build, [a, b], [outShape], ['bool'])?.[0];
    },
  };
}

const single = (op: string) => (a: string, b: string): OnnxNode[] => [{ op, inputs: [a, b], outputs: ['y0'] }];

function logical(kernelName: 'LogicalAnd' | 'LogicalOr', op: 'And' | 'Or'): NativeKernelDef {
  return {
    kernelName,
    impl: (args) => {
      const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
      const outShape = broadcastShapes(a.shape, b.shape);
      if (!outShape || sizeOf(outShape) < MIN_NATIVE_ELEMENTS) return undefined;
      const key = `${kernelName}|${a.shape}|${b.shape}`;
      const build = (): OnnxGraph => ({
        inputs: [gin(0, a.shape, 'bool'), gin(1, b.shape, 'bool')],
        outputs: [gout(0, outShape, 'bool')],
        nodes: [{ op, inputs: ['x0', 'x1'], outputs: ['y0'] }],
      });
      return runGraph(args, key, build, [a, b], [outShape], ['bool'], ['bool', 'bool'])?.[0];
    },
  };
}

/** bool or int32 to float32 (masks into arithmetic); other casts stay in JS. */
const cast: NativeKernelDef = {
  kernelName: 'Cast',
  impl: (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (args.attrs.dtype !== 'float32' || (x.dtype !== 'bool' && x.dtype !== 'int32') || sizeOf(x.shape) < MIN_NATIVE_ELEMENTS) return undefined;
    const from = x.dtype;
    const key = `Cast|${x.shape}|${from}`;
    const build = (): OnnxGraph => ({
      inputs: [gin(0, x.shape, from)],
      outputs: [gout(0, x.shape)],
      nodes: [{ op: 'Cast', inputs: ['x0'], outputs: ['y0'], attrs: { to: ONNX_TYPE.float32 } }],
    });
    return runGraph(args, key, build, [x], [[...x.shape]], [], [from])?.[0];
  },
};

/** Select with a condition of the same shape as both branches (TF.js also allows a row mask: JS). */
const select: NativeKernelDef = {
  kernelName: 'Select',
  impl: (args) => {
    const { condition, t, e } = args.inputs as { condition: TensorInfo; t: TensorInfo; e: TensorInfo };
    const same = (p: TensorInfo) => p.shape.join() === t.shape.join();
    if (!same(condition) || !same(e) || sizeOf(t.shape) < MIN_NATIVE_ELEMENTS) return undefined;
    const key = `Select|${t.shape}`;
    const build = (): OnnxGraph => ({
      inputs: [gin(0, t.shape, 'bool'), gin(1, t.shape), gin(2, t.shape)],
      outputs: [gout(0, t.shape)],
      nodes: [{ op: 'Where', inputs: ['x0', 'x1', 'x2'], outputs: ['y0'] }],
    });
    return runGraph(args, key, build, [condition, t, e], [[...t.shape]], [], ['bool', 'float32', 'float32'])?.[0];
  },
};

export const COMPARISON_KERNELS: NativeKernelDef[] = [
  comparison('Greater', single('Greater')),
  comparison('GreaterEqual', single('GreaterOrEqual')),
  comparison('Less', single('Less')),
  comparison('LessEqual', single('LessOrEqual')),
  comparison('Equal', single('Equal')),
  comparison('NotEqual', (a, b) => [
    { op: 'Equal', inputs: [a, b], outputs: ['eq'] },
    { op: 'Not', inputs: ['eq'], outputs: ['y0'] },
  ]),
  logical('LogicalAnd', 'And'),
  logical('LogicalOr', 'Or'),
  cast,
  select,
];
