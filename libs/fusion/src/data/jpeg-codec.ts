import jpeg from 'jpeg-js';
import type { DecodedImage } from './png-codec.js';

/**
 * Bounds a JPEG may claim before any pixel is allocated: its header alone decides how much memory
 * jpeg-js takes, so a few hostile bytes could otherwise ask for gigabytes. 64 MP covers an 8k x 8k
 * scan; the memory bound leaves room for jpeg-js's per-component buffers at that size.
 */
export const JPEG_LIMITS = { maxResolutionInMP: 64, maxMemoryUsageInMB: 1024 } as const;

/** Decodes a baseline or progressive JPEG (grey or colour) to 8-bit RGBA. */
export function decodeJpeg(bytes: Buffer): DecodedImage {
  const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, ...JPEG_LIMITS });
  return { width: img.width, height: img.height, rgba: Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength) };
}

/** Encodes RGBA pixels as a JPEG; tests and synthetic data use it to write JPEG inputs. */
export function encodeJpeg(rgba: Uint8Array, width: number, height: number, quality = 90): Buffer {
  if (rgba.length !== width * height * 4) throw new RangeError(`expected ${width * height * 4} RGBA bytes, got ${rgba.length}`);
  return jpeg.encode({ data: rgba, width, height }, quality).data;
}
