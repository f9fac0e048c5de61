import type { OnnxConstant, OnnxNode } from '../onnx/onnx-graph.js';

/**
 * ONNX nodes for the activation of TF.js's fused kernels (FusedConv2D, _FusedMatMul,
 * FusedDepthwiseConv2D), from `input` to `output`; undefined for activations not covered
 * (prelu needs its weights' broadcasting rules), so the JS kernel runs.
 */
export function activationNodes(
  activation: string | undefined,
  leakyAlpha: number | undefined,
  input: string,
  output: string,
): { nodes: OnnxNode[]; constants: OnnxConstant[] } | undefined {
  switch (activation ?? 'linear') {
    case 'linear':
      return { nodes: [{ op: 'Identity', inputs: [input], outputs: [output] }], constants: [] };
    case 'relu':
      return { nodes: [{ op: 'Relu', inputs: [input], outputs: [output] }], constants: [] };
    case 'relu6':
      return {
        nodes: [{ op: 'Clip', inputs: [input, 'act_lo', 'act_hi'], outputs: [output] }],
        constants: [
          { name: 'act_lo', dims: [], type: 'float32', values: [0] },
          { name: 'act_hi', dims: [], type: 'float32', values: [6] },
        ],
      };
    case 'sigmoid':
      return { nodes: [{ op: 'Sigmoid', inputs: [input], outputs: [output] }], constants: [] };
    case 'elu':
      return { nodes: [{ op: 'Elu', inputs: [input], outputs: [output], attrs: { alpha: { float: 1 } } }], constants: [] };
    case 'leakyrelu':
      return {
        nodes: [{ op: 'LeakyRelu', inputs: [input], outputs: [output], attrs: { alpha: { float: leakyAlpha ?? 0.2 } } }],
        constants: [],
      };
    default:
      return undefined;
  }
}
