/**
 * Reuses the large float32 arrays native kernels write their outputs into. A fresh array costs a
 * page fault per 4 KiB on first write and garbage-collector work later; on the development machine
 * that was often more than the kernel itself (an 8 MiB activation: ~0.3 ms to compute, up to 10 ms
 * to fault in). An array returns to the pool only when it is provably unreachable from outside:
 *   - we allocated it (never an array a user handed to tf.tensor),
 *   - TF.js freed every tensor that referenced its buffer (views such as a simple Slice's
 *     subarray count as references: liveness is tracked per ArrayBuffer),
 *   - it was never handed out by readSync/read (dataSync(), data(), arraySync() return the
 *     backend's own array, which the caller may keep after disposing the tensor).
 */
export class Float32Pool {
  private readonly free = new Map<number, Float32Array[]>();
  private readonly owned = new WeakSet<ArrayBufferLike>();
  private readonly escaped = new WeakSet<ArrayBufferLike>();
  private readonly live = new WeakMap<ArrayBufferLike, number>();
  private readonly notes = new WeakMap<ArrayBufferLike, { source: ArrayBufferLike; words: Uint32Array }>();
  /** The outputs holding notes computed from each source buffer (dropped when the source is freed). */
  private readonly noted = new WeakMap<ArrayBufferLike, ArrayBufferLike[]>();
  private readonly freeWords = new Map<number, Uint32Array[]>();
  private pooledBytes = 0;
  /** Arrays handed out again instead of allocated (for tests and the benchmark). */
  reused = 0;

  constructor(
    private readonly minLength = 16_384,
    private readonly maxPooledBytes = 256 * 1024 * 1024,
    private readonly maxPerLength = 32,
  ) {}

  /** An array of `length` elements with arbitrary contents: the caller must overwrite all of it. */
  alloc(length: number): Float32Array {
    if (length < this.minLength) return new Float32Array(length);
    const list = this.free.get(length);
    const reused = list?.pop();
    if (reused) {
      this.pooledBytes -= reused.byteLength;
      this.reused++;
      return reused;
    }
    const fresh = new Float32Array(length);
    this.owned.add(fresh.buffer);
    return fresh;
  }

  /** A tensor now references `values` (the backend's write/move). */
  retain(values: unknown): void {
    const buffer = bufferOf(values);
    if (buffer) this.live.set(buffer, (this.live.get(buffer) ?? 0) + 1);
  }

  /**
   * Attaches a note (an array of words) to a kernel's output `values` computed from `source`
   * (max pooling's window codes, read by its gradient): noteOf returns it while both are still
   * the tensors they were (each referenced ever since); it is recycled when either is freed.
   * `words` must come from allocNote and no one else may keep it.
   */
  attachNote(values: Float32Array, source: Float32Array, words: Uint32Array): void {
    if (!this.live.get(source.buffer)) return this.returnNote(words);
    this.dropNote(values.buffer);
    this.notes.set(values.buffer, { source: source.buffer, words });
    const outs = this.noted.get(source.buffer);
    if (outs) outs.push(values.buffer);
    else this.noted.set(source.buffer, [values.buffer]);
  }

  /** The note attached to `values` if `source` is the same live tensor it was computed from. */
  noteOf(values: Float32Array, source: Float32Array): Uint32Array | undefined {
    const note = this.notes.get(values.buffer);
    return note && note.source === source.buffer ? note.words : undefined;
  }

  private dropNote(buffer: ArrayBufferLike): void {
    const note = this.notes.get(buffer);
    if (!note) return;
    this.notes.delete(buffer);
    this.returnNote(note.words);
  }

  /** A note of `length` words with arbitrary contents (for attachNote). */
  allocNote(length: number): Uint32Array {
    return this.freeWords.get(length)?.pop() ?? new Uint32Array(length);
  }

  /** Gives back an allocNote array nothing references any more. */
  returnNote(words: Uint32Array): void {
    const list = this.freeWords.get(words.length) ?? [];
    if (list.length >= this.maxPerLength) return;
    list.push(words);
    this.freeWords.set(words.length, list);
  }

  /** `values` left the caller's hands via readSync/read: never reuse it. */
  escape(values: unknown): void {
    const buffer = bufferOf(values);
    if (buffer) this.escaped.add(buffer);
  }

  /** A tensor that referenced `values` was freed; pool the array if nothing references it now. */
  release(values: unknown): void {
    const buffer = bufferOf(values);
    if (!buffer) return;
    const count = (this.live.get(buffer) ?? 1) - 1;
    if (count > 0) {
      this.live.set(buffer, count);
      return;
    }
    this.live.delete(buffer);
    // Notes on this output, and notes computed from it: a later tensor in the same storage is
    // another tensor.
    this.dropNote(buffer);
    const outs = this.noted.get(buffer);
    if (outs) {
      this.noted.delete(buffer);
      for (const out of outs) if (this.notes.get(out)?.source === buffer) this.dropNote(out);
    }
    if (!(values instanceof Float32Array) || !this.owned.has(buffer) || this.escaped.has(buffer)) return;
    if (values.byteOffset !== 0 || values.byteLength !== buffer.byteLength) return;
    if (this.pooledBytes + values.byteLength > this.maxPooledBytes) return;
    const list = this.free.get(values.length) ?? [];
    if (list.length >= this.maxPerLength) return;
    list.push(values);
    this.free.set(values.length, list);
    this.pooledBytes += values.byteLength;
  }

  clear(): void {
    this.free.clear();
    this.freeWords.clear();
    this.pooledBytes = 0;
  }
}

function bufferOf(values: unknown): ArrayBufferLike | undefined {
  return ArrayBuffer.isView(values) ? values.buffer : undefined;
}

/** The methods of TF.js's cpu backend through which tensor storage enters, leaves and is freed. */
interface CpuStorageMethods {
  data: { get(dataId: object): { values?: unknown } | undefined; has(dataId: object): boolean };
  write(values: unknown, shape: number[], dtype: string): object;
  move(dataId: object, values: unknown, shape: number[], dtype: string, refCount: number): void;
  readSync(dataId: object): unknown;
  read(dataId: object): Promise<unknown>;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** Routes a cpu backend instance's storage events to the pool (see Float32Pool). */
export function attachPool(backend: CpuStorageMethods, pool: Float32Pool): void {
  const { write, move, readSync, read, disposeData } = backend;
  backend.write = function (values, shape, dtype) {
    pool.retain(values);
    return write.call(this, values, shape, dtype);
  };
  backend.move = function (dataId, values, shape, dtype, refCount) {
    if (this.data.has(dataId)) pool.release(this.data.get(dataId)?.values);
    pool.retain(values);
    move.call(this, dataId, values, shape, dtype, refCount);
  };
  backend.readSync = function (dataId) {
    const values = readSync.call(this, dataId);
    pool.escape(values);
    return values;
  };
  backend.read = async function (dataId) {
    const values = await read.call(this, dataId);
    pool.escape(values);
    return values;
  };
  backend.disposeData = function (dataId, force) {
    const values = this.data.has(dataId) ? this.data.get(dataId)?.values : undefined;
    const freed = disposeData.call(this, dataId, force);
    if (freed && values !== undefined) pool.release(values);
    return freed;
  };
}
