import type { TensorInfo } from '@tensorflow/tfjs';
import type { OnnxGraph, OnnxNode } from '../onnx/onnx-graph.js';
import { activationNodes } from './activation-graph.js';
import { gin, gout, runGraph, type NativeKernelArgs, type NativeKernelDef } from './kernel-context.js';

/** Multiply-adds under which a matmul stays in JS (the dense layers of a tiny MLP). */
const MIN_NATIVE_MACS = 16384;

function broadcastBatch(a: readonly number[], b: readonly number[]): number[] | undefined {
  const out: number[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[a.length - 1 - i] ?? 1;
    const y = b[b.length - 1 - i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out.unshift(Math.max(x, y));
  }
  return out;
}

function matmul(args: NativeKernelArgs, kernelName: string, fused: boolean): TensorInfo | undefined {
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
  if (!a || !b || preluActivationWeights || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const ta = args.attrs.transposeA === true;
  const tb = args.attrs.transposeB === true;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = ta ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = ta ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const n = tb ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  const batch = broadcastBatch(a.shape.slice(0, -2), b.shape.slice(0, -2));
  if (!batch) return undefined;
  if (batch.reduce((x, y) => x * y, 1) * m * n * k < MIN_NATIVE_MACS) return undefined;
  const outShape = [...batch, m, n];
  const activation = fused ? (args.attrs.activation as string | undefined) : 'linear';
  const alpha = args.attrs.leakyreluAlpha as number | undefined;
  const act = activationNodes(activation, alpha, 'mm_act_in', 'y0');
  if (!act) return undefined;
  const key = `${kernelName}|${a.shape}|${b.shape}|${ta}|${tb}|${bias ? bias.shape : '-'}|${activation}|${alpha}`;
  const perm = (r: number) => [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
  const build = (): OnnxGraph => {
    const nodes: OnnxNode[] = [];
    if (ta) nodes.push({ op: 'Transpose', inputs: ['x0'], outputs: ['at'], attrs: { perm: perm(ra) } });
    if (tb) nodes.push({ op: 'Transpose', inputs: ['x1'], outputs: ['bt'], attrs: { perm: perm(rb) } });
    nodes.push({ op: 'MatMul', inputs: [ta ? 'at' : 'x0', tb ? 'bt' : 'x1'], outputs: [bias ? 'mm' : 'mm_act_in'] });
    if (bias) nodes.push({ op: 'Add', inputs: ['mm', 'x2'], outputs: ['mm_act_in'] });
    nodes.push(...act.nodes);
    const inputs = [gin(0, a.shape), gin(1, b.shape)];
    if (bias) inputs.push(gin(2, bias.shape));
    return { inputs, outputs: [gout(0, outShape)], nodes, constants: act.constants };
  };
  if (bias && broadcastBatch(outShape, bias.shape)?.join() !== outShape.join()) return undefined;
  return runGraph(args, key, build, bias ? [a, b, bias] : [a, b], [outShape])?.[0];
}

export const MATMUL_KERNELS: NativeKernelDef[] = [
  { kernelName: 'BatchMatMul', impl: (args) => matmul(args, 'BatchMatMul', false) },
  { kernelName: '_FusedMatMul', impl: (args) => matmul(args, '_FusedMatMul', true) },
];
