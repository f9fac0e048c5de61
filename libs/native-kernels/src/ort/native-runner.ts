import type { OnnxGraph } from '../onnx/onnx-graph.js';
import { encodeOnnxModel } from '../onnx/onnx-graph.js';
import { Float32Pool } from './float32-pool.js';
import { createSyncSession, ortTensor, type OrtTensorLike, type SyncSession } from './ort-sync-session.js';

/** TF.js dtypes the native kernels read and write, with their storage (bool: one byte each). */
export type NativeDtype = 'float32' | 'int32' | 'bool';
export type NativeArray = Float32Array | Int32Array | Uint8Array;

export interface NativeInput {
  data: NativeArray;
  dims: readonly number[];
  dtype?: NativeDtype;
}

export interface NativeOutput {
  dims: readonly number[];
  dtype?: NativeDtype;
}



/** Most sessions kept; a training run uses a few dozen (op, shape) pairs, a sweep of sizes more. */
const MAX_SESSIONS = 4000;

/**
 * Runs small ONNX graphs synchronously, one cached session per (op, shapes, attributes) key.
 * Inputs are passed without copying (onnxruntime reads the Float32Array in place) and outputs
 * are written straight into fresh arrays that become the TF.js tensors' storage.
 */
export class NativeRunner {
  private readonly sessions = new Map<string, SyncSession>();
  /** Graph runs since creation: lets tests prove a kernel really went native. */
  readonly counts = new Map<string, number>();

  constructor(
    readonly threads: number,
    /** Where float32 outputs come from (recycled arrays of freed tensors, see Float32Pool). */
    readonly pool: Float32Pool = new Float32Pool(),
  ) {
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`native kernels: threads must be an integer >= 1, got ${threads}`);
  }

  private session(key: string, build: () => OnnxGraph): SyncSession {
    let s = this.sessions.get(key);
    if (s) {
      // Refresh its place so the oldest unused session is the one evicted.
      this.sessions.delete(key);
      this.sessions.set(key, s);
      return s;
    }
    const graph = build();
    try {
      s = createSyncSession(encodeOnnxModel(graph), { threads: this.threads });
    } catch (err) {
      throw new Error(`native kernel ${key}: onnxruntime rejected the graph (${graph.nodes.map((n) => n.op).join(' -> ')}): ${(err as Error).message}`);
    }
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.get(oldest)?.dispose();
      this.sessions.delete(oldest);
    }
    this.sessions.set(key, s);
    return s;
  }

  /**
   * Runs the graph for `key` (built on first use) on inputs named x0, x1, ... and returns its
   * outputs y0, y1, ... (float32 unless an output says otherwise).
   */
  run(key: string, build: () => OnnxGraph, inputs: readonly NativeInput[], outputSpecs: readonly (readonly number[] | NativeOutput)[]): NativeArray[] {
    const session = this.session(key, build);
    const feeds: Record<string, OrtTensorLike> = {};
    inputs.forEach((input, i) => (feeds[`x${i}`] = ortTensor(input.dtype ?? 'float32', input.data, input.dims)));
    const outputs: Record<string, OrtTensorLike> = {};
    const arrays = outputSpecs.map((spec, i) => {
      const { dims, dtype = 'float32' } = Array.isArray(spec) ? { dims: spec as readonly number[] } : (spec as NativeOutput);
      const size = dims.reduce((a, b) => a * b, 1);
      const data = dtype === 'int32' ? new Int32Array(size) : dtype === 'bool' ? new Uint8Array(size) : this.pool.alloc(size);
      outputs[`y${i}`] = ortTensor(dtype, data, dims);
      return data;
    });
    try {
      session.run(feeds, outputs);
    } catch (err) {
      // onnxruntime-common checks `data instanceof Float32Array` in its own realm: arrays made in
      // another realm (Jest's VM sandbox) fail that check, so such tests run in plain Node.
      throw new Error(`native kernel ${key}: onnxruntime run failed: ${(err as Error).message}`);
    }
    const bar = key.indexOf('|');
    const op = bar < 0 ? key : key.slice(0, bar);
    this.counts.set(op, (this.counts.get(op) ?? 0) + 1);
    return arrays;
  }

  /** Records a kernel call served natively outside onnxruntime (the NHWC addon). */
  note(kernelName: string): void {
    this.counts.set(kernelName, (this.counts.get(kernelName) ?? 0) + 1);
  }

  dispose(): void {
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
  }
}
