/**
 * Frames of the socket data plane (data-link.ts): the bytes a rank sends its ring successor on a
 * plain TCP connection, and the successor's greeting. Little-endian, fixed-size headers so the
 * receiver can read each payload straight into its destination (docs/distributed.md, "Data plane").
 *
 * data:  32-byte header [kind=DATA, seq, step, index, offset, length, callElements, opHash] then
 *        `length` float32 values.
 * abort: 32-byte header [kind=ABORT, seq, byteLength, 0...] then `byteLength` bytes of JSON
 *        {code, message}: the sender's call failed; the receiver fails with the same code.
 * hello: [kind=HELLO, byteLength] then JSON {jobId, rank, token}: the successor's first bytes on a
 *        new connection, checked by the predecessor before any data moves.
 * ack:   32-byte header [kind=ACK, 0...]: the predecessor accepted the greeting.
 * begin: 32-byte header [kind=BEGIN, seq, elements, byteLength] then the op string, from the
 *        successor back to its predecessor when it begins call `seq`: the predecessor's call only
 *        completes once its successor is known to be in the same call with the same buffer size.
 */
export const FRAME_HEADER_BYTES = 32;
export const FRAME_KIND = { data: 0x4d46_4401, abort: 0x4d46_4402, ack: 0x4d46_4403, begin: 0x4d46_4404, hello: 0x4d46_4801 } as const;
/** Largest JSON an abort or hello frame may carry: a bound against a garbage length. */
export const MAX_JSON_FRAME_BYTES = 64 * 1024;

export interface DataFrameHeader {
  seq: number;
  step: number;
  index: number;
  offset: number;
  length: number;
  /** Elements of the sender's whole buffer in this call: the receiver's must match. */
  callElements: number;
  /** Hash of the call's op ("mean", "broadcast:<root>"): the receiver's must match. */
  opHash: number;
}

/** FNV-1a 32-bit of the op string: cheap, stable, enough to tell calls apart. */
export function opHash(op: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < op.length; i++) {
    h ^= op.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function encodeDataHeader(h: DataFrameHeader, into: Buffer = Buffer.allocUnsafe(FRAME_HEADER_BYTES)): Buffer {
  into.writeUInt32LE(FRAME_KIND.data, 0);
  into.writeUInt32LE(h.seq, 4);
  into.writeUInt32LE(h.step, 8);
  into.writeUInt32LE(h.index, 12);
  into.writeUInt32LE(h.offset, 16);
  into.writeUInt32LE(h.length, 20);
  into.writeUInt32LE(h.callElements, 24);
  into.writeUInt32LE(h.opHash, 28);
  return into;
}

export type DecodedHeader =
  | { kind: 'data'; header: DataFrameHeader }
  | { kind: 'abort'; seq: number; byteLength: number }
  | { kind: 'begin'; seq: number; elements: number; byteLength: number }
  | { kind: 'invalid'; detail: string };

export function decodeHeader(b: Uint8Array): DecodedHeader {
  const v = new DataView(b.buffer, b.byteOffset, FRAME_HEADER_BYTES);
  const kind = v.getUint32(0, true);
  if (kind === FRAME_KIND.data) {
    const u = (at: number) => v.getUint32(at, true);
    return { kind: 'data', header: { seq: u(4), step: u(8), index: u(12), offset: u(16), length: u(20), callElements: u(24), opHash: u(28) } };
  }
  if (kind === FRAME_KIND.abort) {
    const byteLength = v.getUint32(8, true);
    if (byteLength > MAX_JSON_FRAME_BYTES) return { kind: 'invalid', detail: `abort frame of ${byteLength} bytes` };
    return { kind: 'abort', seq: v.getUint32(4, true), byteLength };
  }
  if (kind === FRAME_KIND.begin) {
    const byteLength = v.getUint32(12, true);
    if (byteLength > MAX_JSON_FRAME_BYTES) return { kind: 'invalid', detail: `begin frame of ${byteLength} bytes` };
    return { kind: 'begin', seq: v.getUint32(4, true), elements: v.getUint32(8, true), byteLength };
  }
  return { kind: 'invalid', detail: `unknown frame kind 0x${kind.toString(16)}` };
}

export function encodeBegin(seq: number, elements: number, op: string): Buffer {
  const body = Buffer.from(op, 'utf8');
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32LE(FRAME_KIND.begin, 0);
  frame.writeUInt32LE(seq, 4);
  frame.writeUInt32LE(elements, 8);
  frame.writeUInt32LE(body.length, 12);
  body.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/** An abort frame: header and JSON body in one buffer. */
export function encodeAbort(seq: number, code: string, message: string): Buffer {
  const body = Buffer.from(JSON.stringify({ code, message: message.slice(0, 4000) }), 'utf8');
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32LE(FRAME_KIND.abort, 0);
  frame.writeUInt32LE(seq, 4);
  frame.writeUInt32LE(body.length, 8);
  body.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/** The successor's greeting: kind, length, JSON. */
export function encodeHello(hello: { jobId: string; rank: number; token: string }): Buffer {
  const body = Buffer.from(JSON.stringify(hello), 'utf8');
  const frame = Buffer.alloc(8 + body.length);
  frame.writeUInt32LE(FRAME_KIND.hello, 0);
  frame.writeUInt32LE(body.length, 4);
  body.copy(frame, 8);
  return frame;
}
