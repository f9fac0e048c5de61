/**
 * The tuning library's generator: sfc32 seeded through a murmur-style hash of several integers.
 * Every proposal draws from its own stream `(study seed, trial number, purpose)`, so a sampler's
 * output depends only on its inputs: a scheduler that rebuilds the trials after a restart gets the
 * same proposal it would have got before. Not for cryptography.
 *
 * A separate generator from libs/fusion's on purpose: this lib has no dependencies (fusion brings
 * data loaders with file I/O) and needs streams keyed by several parts, not one running state.
 */
export interface TuningRng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box-Muller, one value per call). */
  normal(): number;
}

const { imul, sqrt, log, cos, floor, PI } = Math;

/** Hashes integers into one 32-bit seed (murmur3 mixing per part, then a finaliser). */
export function hashSeed(...parts: readonly number[]): number {
  let h = 0x9e3779b9 ^ parts.length;
  for (const part of parts) {
    let k = part >>> 0;
    // Parts may exceed 32 bits (large trial numbers, negative values): fold the high word in.
    const high = floor(part / 4294967296) >>> 0;
    k = imul(k ^ imul(high, 0x27d4eb2f), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (imul(h, 5) + 0xe6546b64) >>> 0;
  }
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A generator for the stream named by `parts` (e.g. study seed, trial number, purpose tag). */
export function tuningRng(...parts: readonly number[]): TuningRng {
  let a = hashSeed(...parts, 1);
  let b = hashSeed(...parts, 2);
  let c = hashSeed(...parts, 3);
  let d = 1;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  // sfc32 starts weakly mixed: discard a few outputs as its author recommends.
  for (let i = 0; i < 12; i++) next();
  return {
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    int: (n) => floor(next() * n),
    // 1 - u keeps the logarithm finite (u can be 0, never 1).
    normal: () => sqrt(-2 * log(1 - next())) * cos(2 * PI * next()),
  };
}

/** Purpose tags, so two uses within one trial never share a stream. */
export const RNG_PURPOSE = {
  random: 1,
  tpe: 2,
  cmaes: 3,
  nsga2: 4,
  grid: 5,
} as const;
