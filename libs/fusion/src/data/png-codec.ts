import { PNG } from 'pngjs';

// filterType 0 ("none") on every row: pngjs otherwise tries all five PNG filters per row, which is
// slow inside Jest's sandbox and gains almost nothing on noisy images. The pixels are the same.
const GRAY_8BIT = { colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8, filterType: 0 } as const;

/** Encodes 8-bit grayscale pixels (row-major, width*height bytes) as a PNG. */
export function encodeGrayPng(pixels: Uint8Array, width: number, height: number): Buffer {
  if (pixels.length !== width * height) throw new RangeError(`expected ${width * height} pixels, got ${pixels.length}`);
  const png = new PNG({ width, height, ...GRAY_8BIT });
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  return PNG.sync.write(png, GRAY_8BIT);
}

export interface DecodedImage {
  width: number;
  height: number;
  /** RGBA, 8 bits per channel (pngjs expands every PNG colour type and bit depth to this). */
  rgba: Buffer;
}

export function decodePng(bytes: Buffer): DecodedImage {
  const png = PNG.sync.read(bytes);
  return { width: png.width, height: png.height, rgba: png.data };
}
