import { chunkHeaderLength, decodeChunk, encodeChunk } from './chunk-codec.js';
import { protobufPullMethod } from './collective-protocol.js';
import type { RingChunk } from './ring-reduction.js';

/** Decodes with protobufjs, as any other gRPC implementation reading collective.proto would. */
const protobufDecode = (buf: Buffer) => protobufPullMethod.responseDeserialize(buf) as unknown as { seq: number; step: number; index: number; offset: number; senderRank: number; data: Buffer };
const protobufEncode = (chunk: object) => protobufPullMethod.responseSerialize(chunk as RingChunk);

describe('chunk codec', () => {
  const chunk: RingChunk = { seq: 2 ** 40 + 3, step: 5, index: 9, offset: 123_456_789, senderRank: 3, data: Float32Array.from([1.5, -2, 3e-8]) };

  it('writes a Chunk that protobufjs reads with the same fields', () => {
    const decoded = protobufDecode(encodeChunk(chunk));
    expect({ ...decoded, data: undefined, pad: undefined }).toEqual({ ...chunk, data: undefined, pad: undefined });
    expect(new Float32Array(new Uint8Array(decoded.data).buffer)).toEqual(chunk.data);
  });

  it('reads a Chunk written by protobufjs (other field widths, no padding)', () => {
    const bytes = protobufEncode({ ...chunk, data: Buffer.from(chunk.data.buffer) });
    expect(decodeChunk(bytes)).toEqual(chunk);
  });

  it.each([0, 1, 31, 32, 1 << 14, 1 << 20])('aligns a %i-element payload to 4 bytes after the 5-byte gRPC frame header', (n) => {
    const data = Float32Array.from({ length: n }, (_, i) => i);
    const header = chunkHeaderLength(n * 4);
    expect((5 + header) % 4).toBe(0);
    const framed = Buffer.alloc(5 + header + n * 4);
    encodeChunk({ ...chunk, data }).copy(framed, 5);
    const decoded = decodeChunk(framed.subarray(5));
    expect(decoded.data.buffer).toBe(framed.buffer);
    expect(decoded.data).toEqual(data);
  });

  it('copies a misaligned payload instead of failing, and rejects a payload that is not whole float32 values', () => {
    const framed = Buffer.alloc(6 + chunkHeaderLength(12) + 12);
    encodeChunk(chunk).copy(framed, 6);
    expect(decodeChunk(framed.subarray(6)).data).toEqual(chunk.data);
    const odd = protobufEncode({ ...chunk, data: Buffer.alloc(7) });
    expect(() => decodeChunk(odd)).toThrow(/data has 7 bytes, not a whole number of float32 values/);
    expect(() => decodeChunk(Buffer.from([0x09, 1, 2]))).toThrow(/truncated|needs 8 bytes/);
  });
});
