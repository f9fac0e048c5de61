import { endianness } from 'node:os';
import type { RingChunk } from './ring-reduction.js';

/**
 * The `Chunk` message of proto/collective.proto, encoded and decoded by hand: protobufjs would copy
 * the payload into a JS object and back. The encoder writes fixed-width fields and a padding field
 * sized so the float32 payload starts 4-byte aligned once gRPC's 5-byte frame header is in front,
 * which lets the receiver reduce from a Float32Array view of the received bytes. The decoder
 * accepts any valid protobuf encoding of `Chunk` (fields in any order, unknown fields skipped) and
 * copies the payload only when it is misaligned.
 */

if (endianness() !== 'LE') throw new Error('libs/collective sends float32 little-endian and needs a little-endian host');

const GRPC_FRAME_HEADER = 5;
const FIXED_PART = 9 + 5 + 5 + 9 + 5; // seq, step, index, offset, sender_rank: tag + fixed width each

const TAG = { seq: 0x09, step: 0x15, index: 0x1d, offset: 0x21, senderRank: 0x2d, pad: 0x32, data: 0x3a } as const;

function varintLength(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, pos: number, value: number): number {
  while (value >= 0x80) {
    buf[pos++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[pos++] = value;
  return pos;
}

function writeFixed64(buf: Buffer, pos: number, value: number): number {
  buf.writeUInt32LE(value % 0x1_0000_0000, pos);
  buf.writeUInt32LE(Math.floor(value / 0x1_0000_0000), pos + 4);
  return pos + 8;
}

/** Bytes before the payload, padding included. */
export function chunkHeaderLength(payloadBytes: number): number {
  const unpadded = FIXED_PART + 2 + 1 + varintLength(payloadBytes);
  return unpadded + ((4 - ((GRPC_FRAME_HEADER + unpadded) % 4)) % 4);
}

export function encodeChunk(chunk: RingChunk): Buffer {
  const buf = Buffer.allocUnsafe(chunkHeaderLength(chunk.data.byteLength) + chunk.data.byteLength);
  writeChunk(chunk, buf, 0);
  return buf;
}

/**
 * The Chunk as gRPC's server-side framing sees it: grpc-js (1.14) reads `byteLength`, allocates the
 * framed message and calls `copy(frame, 5)`, so the payload goes from the caller's Float32Array
 * straight into the frame, with no intermediate message buffer (a full copy of every byte sent).
 * Should grpc-js ever use the value any other way, calls fail loudly: the sender gets INTERNAL
 * (Error serializing response), or the frame holds no Chunk header written by `copy` and the
 * receiver rejects it (PROTOCOL_VIOLATION); every network test would catch it.
 */
export function framableChunk(chunk: RingChunk): Buffer {
  const byteLength = chunkHeaderLength(chunk.data.byteLength) + chunk.data.byteLength;
  const framable = {
    byteLength,
    length: byteLength,
    copy(target: Buffer, targetStart = 0): number {
      writeChunk(chunk, target, targetStart);
      return byteLength;
    },
  };
  return framable as unknown as Buffer;
}

function writeChunk(chunk: RingChunk, buf: Buffer, start: number): void {
  const payload = chunk.data.byteLength;
  const header = chunkHeaderLength(payload);
  const pad = header - (FIXED_PART + 2 + 1 + varintLength(payload));
  let pos = start;
  buf[pos++] = TAG.seq;
  pos = writeFixed64(buf, pos, chunk.seq);
  buf[pos++] = TAG.step;
  pos = buf.writeUInt32LE(chunk.step, pos);
  buf[pos++] = TAG.index;
  pos = buf.writeUInt32LE(chunk.index, pos);
  buf[pos++] = TAG.offset;
  pos = writeFixed64(buf, pos, chunk.offset);
  buf[pos++] = TAG.senderRank;
  pos = buf.writeUInt32LE(chunk.senderRank, pos);
  buf[pos++] = TAG.pad;
  buf[pos++] = pad;
  buf.fill(0, pos, pos + pad);
  pos += pad;
  buf[pos++] = TAG.data;
  pos = writeVarint(buf, pos, payload);
  buf.set(new Uint8Array(chunk.data.buffer, chunk.data.byteOffset, payload), pos);
}

class ChunkReader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new Error('Chunk: truncated varint');
      const byte = this.buf[this.pos++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new Error('Chunk: varint longer than 10 bytes');
  }

  take(n: number): number {
    if (this.pos + n > this.buf.length) throw new Error(`Chunk: field needs ${n} bytes, ${this.buf.length - this.pos} left`);
    const at = this.pos;
    this.pos += n;
    return at;
  }
}

export function decodeChunk(buf: Buffer): RingChunk {
  const r = new ChunkReader(buf);
  const chunk: RingChunk = { seq: 0, step: 0, index: 0, offset: 0, senderRank: 0, data: new Float32Array(0) };
  while (r.pos < buf.length) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      r.varint();
    } else if (wire === 1) {
      const at = r.take(8);
      const value = buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * 0x1_0000_0000;
      if (field === 1) chunk.seq = value;
      else if (field === 4) chunk.offset = value;
    } else if (wire === 5) {
      const value = buf.readUInt32LE(r.take(4));
      if (field === 2) chunk.step = value;
      else if (field === 3) chunk.index = value;
      else if (field === 5) chunk.senderRank = value;
    } else if (wire === 2) {
      const length = r.varint();
      const at = r.take(length);
      if (field === 7) {
        if (length % 4 !== 0) throw new Error(`Chunk: data has ${length} bytes, not a whole number of float32 values`);
        const start = buf.byteOffset + at;
        chunk.data =
          start % 4 === 0
            ? new Float32Array(buf.buffer, start, length / 4)
            : new Float32Array(new Uint8Array(buf.buffer, start, length).slice().buffer);
      }
    } else {
      throw new Error(`Chunk: unsupported wire type ${wire} for field ${field}`);
    }
  }
  return chunk;
}
