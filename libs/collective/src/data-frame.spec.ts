import { decodeHeader, encodeAbort, encodeBegin, encodeDataHeader, FRAME_HEADER_BYTES, MAX_JSON_FRAME_BYTES, opHash } from './data-frame.js';

describe('socket data plane frames', () => {
  it('round-trips a data header, little-endian, in 32 bytes', () => {
    const h = { seq: 7, step: 3, index: 2, offset: 1_000_003, length: 262_144, callElements: 4_000_000, opHash: opHash('mean') };
    const b = encodeDataHeader(h);
    expect(b.length).toBe(FRAME_HEADER_BYTES);
    expect(b.readUInt32LE(4)).toBe(7);
    expect(decodeHeader(b)).toEqual({ kind: 'data', header: h });
  });

  it('tells calls apart by op hash', () => {
    expect(opHash('mean')).not.toBe(opHash('broadcast:0'));
    expect(opHash('broadcast:0')).not.toBe(opHash('broadcast:1'));
    expect(opHash('mean')).toBe(opHash('mean'));
  });

  it('carries an abort code and message, and a begin frame\'s op and size', () => {
    const abort = encodeAbort(4, 'SIZE_MISMATCH', 'rank 1 has 50 elements');
    const a = decodeHeader(abort);
    expect(a).toEqual({ kind: 'abort', seq: 4, byteLength: abort.length - FRAME_HEADER_BYTES });
    expect(JSON.parse(abort.subarray(FRAME_HEADER_BYTES).toString('utf8'))).toEqual({ code: 'SIZE_MISMATCH', message: 'rank 1 has 50 elements' });
    const begin = encodeBegin(9, 1003, 'broadcast:2');
    expect(decodeHeader(begin)).toEqual({ kind: 'begin', seq: 9, elements: 1003, byteLength: 11 });
    expect(begin.subarray(FRAME_HEADER_BYTES).toString('utf8')).toBe('broadcast:2');
  });

  it('refuses unknown kinds and oversized bodies', () => {
    expect(decodeHeader(Buffer.alloc(FRAME_HEADER_BYTES))).toMatchObject({ kind: 'invalid' });
    const huge = encodeAbort(1, 'PEER_LEFT', 'x');
    huge.writeUInt32LE(MAX_JSON_FRAME_BYTES + 1, 8);
    expect(decodeHeader(huge)).toMatchObject({ kind: 'invalid', detail: expect.stringContaining('abort frame') });
  });
});
