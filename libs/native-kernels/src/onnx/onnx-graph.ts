import { ProtobufWriter } from './protobuf-writer.js';

/** ONNX TensorProto.DataType values for the element types the kernels use. */
export const ONNX_TYPE = { float32: 1, int32: 6, int64: 7, bool: 9, float64: 11 } as const;
export type OnnxElementType = keyof typeof ONNX_TYPE;

export type OnnxAttribute = number | readonly number[] | string | { float: number };

export interface OnnxNode {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs?: Readonly<Record<string, OnnxAttribute>>;
  /** Operator domain; '' is the default ONNX domain. */
  domain?: string;
}

export interface OnnxValue {
  name: string;
  dims: readonly number[];
  type?: OnnxElementType;
}

export interface OnnxConstant {
  name: string;
  dims: readonly number[];
  type: 'int64' | 'float32';
  values: readonly number[];
}

export interface OnnxGraph {
  inputs: readonly OnnxValue[];
  outputs: readonly OnnxValue[];
  nodes: readonly OnnxNode[];
  constants?: readonly OnnxConstant[];
}

/** Opset 18 has every op the kernels need with axes given as inputs (Reduce*, Pad). */
export const OPSET = 18;
const IR_VERSION = 8;

// Field numbers from onnx/onnx.proto3 (ModelProto, GraphProto, NodeProto, AttributeProto, ...).
const ATTR_TYPE = { float: 1, int: 2, string: 3, ints: 7 } as const;

function writeAttribute(w: ProtobufWriter, name: string, value: OnnxAttribute): void {
  w.message(5, (a) => {
    a.string(1, name);
    if (typeof value === 'number') {
      if (!Number.isInteger(value)) throw new Error(`attribute ${name}=${value}: integer expected; use { float } for floats`);
      a.int(3, value).int(20, ATTR_TYPE.int);
    } else if (typeof value === 'string') {
      a.string(4, value).int(20, ATTR_TYPE.string);
    } else if (Array.isArray(value)) {
      for (const v of value as readonly number[]) a.int(8, v);
      a.int(20, ATTR_TYPE.ints);
    } else {
      a.float(2, (value as { float: number }).float).int(20, ATTR_TYPE.float);
    }
  });
}

function writeValueInfo(w: ProtobufWriter, field: number, v: OnnxValue): void {
  w.message(field, (vi) => {
    vi.string(1, v.name);
    vi.message(2, (t) =>
      t.message(1, (tt) => {
        tt.int(1, ONNX_TYPE[v.type ?? 'float32']);
        tt.message(2, (shape) => {
          for (const d of v.dims) shape.message(1, (dim) => dim.int(1, d));
        });
      }),
    );
  });
}

/** Serialises a single-graph ONNX model (ModelProto) for onnxruntime to load from memory. */
export function encodeOnnxModel(graph: OnnxGraph): Uint8Array {
  const w = new ProtobufWriter();
  w.int(1, IR_VERSION);
  w.string(2, 'medfusion-native-kernels');
  w.message(7, (g) => {
    graph.nodes.forEach((n, i) =>
      g.message(1, (node) => {
        for (const input of n.inputs) node.string(1, input);
        for (const output of n.outputs) node.string(2, output);
        node.string(3, `n${i}`);
        node.string(4, n.op);
        for (const [k, v] of Object.entries(n.attrs ?? {})) writeAttribute(node, k, v);
        if (n.domain) node.string(7, n.domain);
      }),
    );
    g.string(2, 'kernel');
    for (const c of graph.constants ?? []) {
      g.message(5, (t) => {
        for (const d of c.dims) t.int(1, d);
        t.int(2, ONNX_TYPE[c.type]);
        if (c.type === 'int64') t.packedInts(7, c.values);
        else t.packedFloats(4, c.values);
        t.string(8, c.name);
      });
    }
    for (const v of graph.inputs) writeValueInfo(g, 11, v);
    for (const v of graph.outputs) writeValueInfo(g, 12, v);
  });
  const domains = new Set(graph.nodes.map((n) => n.domain ?? ''));
  for (const domain of domains) {
    w.message(8, (o) => {
      if (domain) o.string(1, domain);
      o.int(2, domain ? 1 : OPSET);
    });
  }
  return w.finish();
}
