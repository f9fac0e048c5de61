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

/** Where a lesion sits in a size x size image: centre and radius in pixels. */
export interface LesionPlacement {
  cx: number;
  cy: number;
  r: number;
}

/** A random centre that keeps the whole disc inside the image. */
export function placeLesion(rng: SeededRandom, size: number, lesion: Lesion): LesionPlacement {
  const r = lesion.radius * size;
  return { r, cx: rng.uniform(r + 1, size - r - 1), cy: rng.uniform(r + 1, size - r - 1) };
}

/**
 * A size x size 8-bit grey image: background noise plus one disc with a one-pixel soft edge, placed
 * at random but wholly inside the image. The darkest lesion (0.12 + 0.8 * 0.35 = 0.40) stays more
 * than 5 noise SDs above the background, so its area and brightness can be read off the pixels.
 */
export function drawLesionImage(rng: SeededRandom, size: number, lesion: Lesion): Uint8Array {
  return drawLesionAt(rng, size, lesion, placeLesion(rng, size, lesion));
}

/** The image of `lesion` at `at`; brightness 0 draws the background alone (a view without the lesion). */
export function drawLesionAt(rng: SeededRandom, size: number, lesion: Lesion, at: LesionPlacement): Uint8Array {
  const pixels = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = BACKGROUND + BACKGROUND_NOISE_SD * rng.normal() + discCoverage(at, x, y) * lesion.brightness * CONTRAST;
      pixels[y * size + x] = round(255 * min(1, max(0, v)));
    }
  }
  return pixels;
}

/** The lesion's region mask: 255 inside the disc, 0 outside (pixels at least half covered count as inside). */
export function lesionMask(size: number, at: LesionPlacement): Uint8Array {
  const pixels = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) pixels[y * size + x] = discCoverage(at, x, y) >= 0.5 ? 255 : 0;
  return pixels;
}

/** How much of pixel (x, y) the disc covers, 0..1, with a one-pixel soft edge. */
function discCoverage(at: LesionPlacement, x: number, y: number): number {
  return min(1, max(0, at.r - hypot(x + 0.5 - at.cx, y + 0.5 - at.cy) + 0.5));
}
