import { createRequire } from 'node:module';

/**
 * Synchronous access to onnxruntime-node's native binding.
 *
 * Why: a TF.js kernel must return its result synchronously, but the public
 * `InferenceSession.run` is async. Underneath, the binding's `run` executes the session on the
 * calling thread and returns the outputs; the public API only defers it with `setImmediate`. We
 * call the binding directly and keep that reliance on onnxruntime-node's internal layout
 * (`dist/binding.js`, checked against 1.30) in this one module, so an upgrade breaks here with a
 * clear message, not inside the kernels.
 */

export interface OrtTensorLike {
  readonly type: string;
  readonly data: Float32Array | Int32Array | BigInt64Array | Uint8Array;
  readonly dims: readonly number[];
}

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, OrtTensorLike>, fetches: Record<string, OrtTensorLike | null>, options: object): Record<string, OrtTensorLike>;
  dispose(): void;
}

interface NativeBindingModule {
  binding: { InferenceSession: new () => NativeSession };
  initOrt(): void;
}

type TensorCtor = new (type: string, data: OrtTensorLike['data'], dims: readonly number[]) => OrtTensorLike;

let cached: { mod: NativeBindingModule; Tensor: TensorCtor } | undefined;

function load(): { mod: NativeBindingModule; Tensor: TensorCtor } {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  let mod: NativeBindingModule;
  let ort: { Tensor: TensorCtor };
  try {
    ort = require('onnxruntime-node') as { Tensor: TensorCtor };
    mod = require('onnxruntime-node/dist/binding.js') as NativeBindingModule;
  } catch (err) {
    throw new Error(`onnxruntime-node's native binding does not load: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof mod.initOrt !== 'function' || typeof mod.binding?.InferenceSession !== 'function') {
    throw new Error('onnxruntime-node/dist/binding.js has an unexpected shape (expected initOrt and binding.InferenceSession, as in 1.30)');
  }
  mod.initOrt();
  cached = { mod, Tensor: ort.Tensor };
  return cached;
}

export interface SyncSessionOptions {
  /** Threads one kernel may use (onnxruntime's intra-op pool). */
  threads: number;
}

export interface SyncSession {
  /** Runs the graph on the calling thread; outputs are written into the given arrays. */
  run(feeds: Record<string, OrtTensorLike>, outputs: Record<string, OrtTensorLike>): void;
  dispose(): void;
}

export function ortTensor(type: 'float32' | 'int64' | 'int32' | 'bool', data: OrtTensorLike['data'], dims: readonly number[]): OrtTensorLike {
  return new (load().Tensor)(type, data, dims);
}

/** Loads an in-memory ONNX model into a session that runs synchronously. */
export function createSyncSession(model: Uint8Array, options: SyncSessionOptions): SyncSession {
  const { mod } = load();
  const session = new mod.binding.InferenceSession();
  session.loadModel(model.buffer, model.byteOffset, model.byteLength, {
    intraOpNumThreads: options.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Every kernel is its own session; spinning pool threads of idle sessions would steal the
    // cores the running one needs.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const noOptions = {};
  return {
    run: (feeds, outputs) => {
      session.run(feeds, outputs, noOptions);
    },
    dispose: () => session.dispose(),
  };
}

/** True when the native binding loads here; the reason otherwise. */
export function probeOnnxRuntime(): { ok: true } | { ok: false; reason: string } {
  try {
    load();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}
