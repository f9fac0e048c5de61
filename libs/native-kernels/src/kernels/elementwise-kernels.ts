import type { TensorInfo } from '@tensorflow/tfjs';
import type { OnnxConstant, OnnxGraph, OnnxNode } from '../onnx/onnx-graph.js';
import { gin, gout, MIN_NATIVE_ELEMENTS, runGraph, sizeOf, type NativeKernelArgs, type NativeKernelDef } from './kernel-context.js';

/** NumPy broadcasting, which TF.js's binary kernels follow too; undefined if incompatible. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | undefined {
  const out: number[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[a.length - 1 - i] ?? 1;
    const y = b[b.length - 1 - i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out.unshift(x === 1 ? y : x);
  }
  return out;
}

type GraphBody = (attrs: Record<string, unknown>) => { nodes: OnnxNode[]; constants?: OnnxConstant[] } | undefined;

function elementwise(kernelName: string, arity: 1 | 2, body: GraphBody): NativeKernelDef {
  return {
    kernelName,
    impl: (args: NativeKernelArgs) => {
      const ins = (arity === 1 ? [args.inputs.x] : [args.inputs.a, args.inputs.b]) as Array<TensorInfo | undefined>;
      if (ins.some((t) => !t || t.dtype !== 'float32')) return undefined;
      const tensors = ins as TensorInfo[];
      const outShape = arity === 1 ? [...tensors[0]!.shape] : broadcastShapes(tensors[0]!.shape, tensors[1]!.shape);
      if (!outShape || sizeOf(outShape) < MIN_NATIVE_ELEMENTS) return undefined;
      const graph = body(args.attrs);
      if (!graph) return undefined;
      const key = `${kernelName}|${tensors.map((t) => t.shape.join('x')).join(',')}|${JSON.stringify(args.attrs)}`;
      const build = (): OnnxGraph => ({
        inputs: tensors.map((t, i) => gin(i, t.shape)),
        outputs: [gout(0, outShape)],
        nodes: graph.nodes,
        constants: graph.constants ?? [],
      });
      return runGraph(args, key, build, tensors, [outShape])?.[0];
    },
  };
}

const one = (op: string, attrs?: OnnxNode['attrs']): GraphBody => () => ({ nodes: [{ op, inputs: ['x0'], outputs: ['y0'], attrs }] });
const two = (op: string): GraphBody => () => ({ nodes: [{ op, inputs: ['x0', 'x1'], outputs: ['y0'] }] });
const scalar = (name: string, v: number): OnnxConstant => ({ name, dims: [], type: 'float32', values: [v] });

export const ELEMENTWISE_KERNELS: NativeKernelDef[] = [
  elementwise('Add', 2, two('Add')),
  elementwise('Sub', 2, two('Sub')),
  elementwise('Multiply', 2, two('Mul')),
  elementwise('RealDiv', 2, two('Div')),
  elementwise('Maximum', 2, two('Max')),
  elementwise('Minimum', 2, two('Min')),
  elementwise('SquaredDifference', 2, () => ({
    nodes: [
      { op: 'Sub', inputs: ['x0', 'x1'], outputs: ['d'] },
      { op: 'Mul', inputs: ['d', 'd'], outputs: ['y0'] },
    ],
  })),
  elementwise('Relu', 1, one('Relu')),
  elementwise('Relu6', 1, () => ({
    nodes: [{ op: 'Clip', inputs: ['x0', 'lo', 'hi'], outputs: ['y0'] }],
    constants: [scalar('lo', 0), scalar('hi', 6)],
  })),
  elementwise('LeakyRelu', 1, (attrs) => ({ nodes: [{ op: 'LeakyRelu', inputs: ['x0'], outputs: ['y0'], attrs: { alpha: { float: attrs.alpha as number } } }] })),
  elementwise('Elu', 1, one('Elu', { alpha: { float: 1 } })),
  elementwise('Sigmoid', 1, one('Sigmoid')),
  elementwise('Tanh', 1, one('Tanh')),
  elementwise('Exp', 1, one('Exp')),
  elementwise('Log', 1, one('Log')),
  elementwise('Sqrt', 1, one('Sqrt')),
  elementwise('Rsqrt', 1, () => ({
    nodes: [
      { op: 'Sqrt', inputs: ['x0'], outputs: ['s'] },
      { op: 'Reciprocal', inputs: ['s'], outputs: ['y0'] },
    ],
  })),
  elementwise('Reciprocal', 1, one('Reciprocal')),
  elementwise('Square', 1, () => ({ nodes: [{ op: 'Mul', inputs: ['x0', 'x0'], outputs: ['y0'] }] })),
  elementwise('Neg', 1, one('Neg')),
  elementwise('Abs', 1, one('Abs')),
  // TF.js Step: 1 where x > 0, alpha elsewhere, NaN stays NaN (the ReLU gradient's mask).
  elementwise('Step', 1, (attrs) => ({
    nodes: [
      { op: 'Greater', inputs: ['x0', 'zero'], outputs: ['pos'] },
      { op: 'Where', inputs: ['pos', 'one', 'alpha'], outputs: ['s'] },
      { op: 'IsNaN', inputs: ['x0'], outputs: ['nan'] },
      { op: 'Where', inputs: ['nan', 'x0', 's'], outputs: ['y0'] },
    ],
    constants: [scalar('zero', 0), scalar('one', 1), scalar('alpha', (attrs.alpha as number | undefined) ?? 0)],
  })),
  // GELU's erf (ViT); TF.js's JS kernel is a polynomial approximation, onnxruntime's is closer.
  elementwise('Erf', 1, one('Erf')),
  elementwise('ClipByValue', 1, (attrs) => ({
    nodes: [{ op: 'Clip', inputs: ['x0', 'lo', 'hi'], outputs: ['y0'] }],
    constants: [scalar('lo', attrs.clipValueMin as number), scalar('hi', attrs.clipValueMax as number)],
  })),
];

/** Softmax over one axis (attention weights); its input is named `logits`. */
export const SOFTMAX_KERNEL: NativeKernelDef = {
  kernelName: 'Softmax',
  impl: (args) => {
    const { logits } = args.inputs as { logits: TensorInfo };
    if (logits.dtype !== 'float32' || sizeOf(logits.shape) < MIN_NATIVE_ELEMENTS) return undefined;
    const axis = (args.attrs.dim as number | undefined) ?? -1;
    const key = `Softmax|${logits.shape}|${axis}`;
    const build = (): OnnxGraph => ({
      inputs: [gin(0, logits.shape)],
      outputs: [gout(0, logits.shape)],
      nodes: [{ op: 'Softmax', inputs: ['x0'], outputs: ['y0'], attrs: { axis } }],
    });
    return runGraph(args, key, build, [logits], [[...logits.shape]])?.[0];
  },
};

/** AddN: the sum of several same-shaped tensors (gradients meeting at a shared input). */
export const ADD_N_KERNEL: NativeKernelDef = {
  kernelName: 'AddN',
  impl: (args) => {
    const tensors = args.inputs as unknown as TensorInfo[];
    const list = Array.isArray(tensors) ? tensors : Object.values(args.inputs as Record<string, TensorInfo>);
    const first = list[0];
    if (!first || list.some((t) => t.dtype !== 'float32' || t.shape.join() !== first.shape.join())) return undefined;
    if (sizeOf(first.shape) < MIN_NATIVE_ELEMENTS) return undefined;
    const key = `AddN|${list.length}|${first.shape}`;
    const build = (): OnnxGraph => ({
      inputs: list.map((t, i) => gin(i, t.shape)),
      outputs: [gout(0, first.shape)],
      nodes: [{ op: 'Sum', inputs: list.map((_, i) => `x${i}`), outputs: ['y0'] }],
    });
    return runGraph(args, key, build, list, [[...first.shape]])?.[0];
  },
};
