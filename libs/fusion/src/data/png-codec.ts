import { PNG } from 'pngjs';

/** Encodes 8-bit grayscale pixels (row-major, width*height bytes) as a PNG. */
export function encodeGrayPng(pixels: Uint8Array, width: number, height: number): Buffer {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
}

export interface DecodedImage {
  width: number;
  height: number;
  /** RGBA, 8 bits per channel (pngjs expands every PNG colour type to this). */
  rgba: Buffer;
}

export function decodePng(bytes: Buffer): DecodedImage {
  const png = PNG.sync.read(bytes);
  return { width: png.width, height: png.height, rgba: png.data };
}
