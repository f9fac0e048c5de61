/**
 * One checkpoint file: a 4-byte little-endian header length, a JSON header (metadata and where each
 * tensor's bytes are), then the float32 data. Self-describing, so a checkpoint can be inspected
 * without TF.js and loaded by any backend.
 */
export interface StoredTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface CheckpointContents<M> {
  meta: M;
  weights: StoredTensor[];
  optimizer: StoredTensor[];
}

interface Header<M> {
  format: 'medfusion-checkpoint';
  version: 1;
  meta: M;
  tensors: Array<{ group: 'weights' | 'optimizer'; name: string; shape: number[]; offset: number; length: number }>;
}

export function encodeCheckpoint<M>(c: CheckpointContents<M>): Buffer {
  const all = [...c.weights.map((t) => ['weights', t] as const), ...c.optimizer.map((t) => ['optimizer', t] as const)];
  let offset = 0;
  const header: Header<M> = {
    format: 'medfusion-checkpoint',
    version: 1,
    meta: c.meta,
    tensors: all.map(([group, t]) => {
      const entry = { group, name: t.name, shape: t.shape, offset, length: t.data.length };
      offset += t.data.length * 4;
      return entry;
    }),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(4 + json.length + offset);
  out.writeUInt32LE(json.length, 0);
  json.copy(out, 4);
  const base = 4 + json.length;
  all.forEach(([, t], i) => {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(bytes, base + header.tensors[i]!.offset);
  });
  return out;
}

export function decodeCheckpoint<M>(buf: Buffer, source: string): CheckpointContents<M> {
  if (buf.length < 4) throw new Error(`checkpoint ${source} is truncated`);
  const len = buf.readUInt32LE(0);
  let header: Header<M>;
  try {
    header = JSON.parse(buf.subarray(4, 4 + len).toString('utf8')) as Header<M>;
  } catch (err) {
    // Not the parser's message: it quotes the bytes it choked on, and the file may not be a checkpoint at all.
    throw new Error(`checkpoint ${source} has an unreadable header (not JSON)`, { cause: err });
  }
  if (header.format !== 'medfusion-checkpoint' || header.version !== 1) throw new Error(`checkpoint ${source} is not a MedFusion v1 checkpoint`);
  const base = 4 + len;
  const weights: StoredTensor[] = [];
  const optimizer: StoredTensor[] = [];
  for (const t of header.tensors) {
    const start = base + t.offset;
    if (start + t.length * 4 > buf.length) throw new Error(`checkpoint ${source} is truncated at tensor ${t.name}`);
    // Copy: the file buffer may not be 4-byte aligned.
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + start + t.length * 4));
    (t.group === 'weights' ? weights : optimizer).push({ name: t.name, shape: t.shape, data });
  }
  return { meta: header.meta, weights, optimizer };
}
