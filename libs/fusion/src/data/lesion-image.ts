import type { SeededRandom } from './seeded-random.js';

export interface Lesion {
  /** Radius as a fraction of the image side. */
  radius: number;
  /** Added intensity at the lesion's centre, 0..1 before the 0.8 contrast scale. */
  brightness: number;
}

/** The ranges lesions are drawn from (uniform); the label standardises against them. */
export const LESION_RADIUS = { min: 0.08, max: 0.2 } as const;
export const LESION_BRIGHTNESS = { min: 0.35, max: 1 } as const;

const BACKGROUND = 0.12;
const BACKGROUND_NOISE_SD = 0.04;
const CONTRAST = 0.8;

const { hypot, min, max, round } = Math; // module-level: global lookups are slow in Jest's sandbox

export function sampleLesion(rng: SeededRandom): Lesion {
  return { radius: rng.uniform(LESION_RADIUS.min, LESION_RADIUS.max), brightness: rng.uniform(LESION_BRIGHTNESS.min, LESION_BRIGHTNESS.max) };
}

/**
 * A size x size 8-bit grey image: background noise plus one disc with a one-pixel soft edge, placed
 * at random but wholly inside the image. The darkest lesion (0.12 + 0.8 * 0.35 = 0.40) stays more
 * than 5 noise SDs above the background, so its area and brightness can be read off the pixels.
 */
export function drawLesionImage(rng: SeededRandom, size: number, lesion: Lesion): Uint8Array {
  const r = lesion.radius * size;
  const cx = rng.uniform(r + 1, size - r - 1);
  const cy = rng.uniform(r + 1, size - r - 1);
  const pixels = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d = hypot(x + 0.5 - cx, y + 0.5 - cy);
      const inside = min(1, max(0, r - d + 0.5));
      const v = BACKGROUND + BACKGROUND_NOISE_SD * rng.normal() + inside * lesion.brightness * CONTRAST;
      pixels[y * size + x] = round(255 * min(1, max(0, v)));
    }
  }
  return pixels;
}
