import type { TensorInfo } from '@tensorflow/tfjs';
import type { OnnxGraph, OnnxNode } from '../onnx/onnx-graph.js';
import { gin, gout, MIN_NATIVE_ELEMENTS, runGraph, sizeOf, type NativeKernelDef } from './kernel-context.js';

/**
 * TF.js's batch norm cycles each parameter's values along x's flat storage; that equals NumPy
 * broadcasting exactly when the parameter's shape (leading 1s dropped) is a suffix of x's shape.
 */
function cyclesLikeBroadcast(param: readonly number[], x: readonly number[]): boolean {
  const p = [...param];
  while (p.length > 0 && p[0] === 1) p.shift();
  return p.length <= x.length && p.every((d, i) => d === x[x.length - p.length + i]);
}

/** (x - mean) / sqrt(variance + epsilon) * scale + offset, elementwise on NHWC. */
const fusedBatchNorm: NativeKernelDef = {
  kernelName: 'FusedBatchNorm',
  impl: (args) => {
    const { x, mean, variance, scale, offset } = args.inputs as Record<string, TensorInfo | undefined>;
    if (!x || !mean || !variance || sizeOf(x.shape) < MIN_NATIVE_ELEMENTS) return undefined;
    const params = [mean, variance, scale, offset].filter((t): t is TensorInfo => t !== undefined);
    if (params.some((p) => !cyclesLikeBroadcast(p.shape, x.shape))) return undefined;
    const epsilon = (args.attrs.varianceEpsilon as number | undefined) ?? 0.001;
    const inputs = [x, mean, variance, ...(scale ? [scale] : []), ...(offset ? [offset] : [])];
    const scaleName = scale ? 'x3' : undefined;
    const offsetName = offset ? (scale ? 'x4' : 'x3') : undefined;
    const key = `FusedBatchNorm|${inputs.map((t) => t.shape.join('x')).join(',')}|${scale ? 's' : ''}${offset ? 'o' : ''}|${epsilon}`;
    const build = (): OnnxGraph => {
      const nodes: OnnxNode[] = [
        { op: 'Sub', inputs: ['x0', 'x1'], outputs: ['centered'] },
        { op: 'Add', inputs: ['x2', 'eps'], outputs: ['ve'] },
        { op: 'Sqrt', inputs: ['ve'], outputs: ['sd'] },
      ];
      let scaled = 'centered';
      if (scaleName) {
        nodes.push({ op: 'Mul', inputs: ['centered', scaleName], outputs: ['cs'] });
        scaled = 'cs';
      }
      nodes.push({ op: 'Div', inputs: [scaled, 'sd'], outputs: offsetName ? ['normed'] : ['y0'] });
      if (offsetName) nodes.push({ op: 'Add', inputs: ['normed', offsetName], outputs: ['y0'] });
      return {
        inputs: inputs.map((t, i) => gin(i, t.shape)),
        outputs: [gout(0, x.shape)],
        constants: [{ name: 'eps', dims: [], type: 'float32', values: [epsilon] }],
        nodes,
      };
    };
    return runGraph(args, key, build, inputs, [[...x.shape]])?.[0];
  },
};

export const BATCH_NORM_KERNELS: NativeKernelDef[] = [fusedBatchNorm];
