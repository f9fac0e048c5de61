import type { DecodedImage } from './png-codec.js';

const { floor, min } = Math; // module-level: global lookups are slow in Jest's sandbox

/**
 * Writes an image as size x size x channels floats in 0..1 (HWC) into `out` at `offset`. Resizing
 * is nearest neighbour (sampling each output pixel's centre), which keeps a same-size image exact.
 * One channel is the luminance (ITU-R BT.601 weights); three are RGB (a grey PNG decodes to equal
 * R, G and B). Alpha is ignored.
 */
export function writeImageTensor(img: DecodedImage, size: number, channels: 1 | 3, out: Float32Array, offset: number): void {
  const { width, height, rgba } = img;
  for (let y = 0; y < size; y++) {
    const sy = min(height - 1, floor(((y + 0.5) * height) / size));
    for (let x = 0; x < size; x++) {
      const sx = min(width - 1, floor(((x + 0.5) * width) / size));
      const p = (sy * width + sx) * 4;
      const o = offset + (y * size + x) * channels;
      if (channels === 1) out[o] = (0.299 * rgba[p]! + 0.587 * rgba[p + 1]! + 0.114 * rgba[p + 2]!) / 255;
      else for (let c = 0; c < 3; c++) out[o + c] = rgba[p + c]! / 255;
    }
  }
}
