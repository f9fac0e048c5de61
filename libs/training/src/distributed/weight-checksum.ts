/**
 * A 64-bit checksum of float32 weights, bit-exact: two 32-bit FNV-1a hashes with different offset
 * bases over the 32-bit words, in the given order. Returned as four 16-bit halves in a
 * Float32Array (each exact in float32), ready for a broadcast.
 */
export function weightChecksum(arrays: readonly Float32Array[]): Float32Array {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (const array of arrays) {
    const words = new Uint32Array(array.buffer, array.byteOffset, array.length);
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      a = Math.imul(a ^ w, 0x01000193);
      b = Math.imul(b ^ ((w >>> 16) | (w << 16)), 0x01000193);
    }
  }
  a >>>= 0;
  b >>>= 0;
  return Float32Array.of(a >>> 16, a & 0xffff, b >>> 16, b & 0xffff);
}
