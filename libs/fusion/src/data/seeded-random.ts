/**
 * A small seeded generator (mulberry32): the same seed gives the same sequence on every machine, so
 * data sets, shuffles and resumed runs are reproducible. Not for cryptography.
 */
export interface SeededRandom {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
  /** Fisher-Yates shuffle of 0..n-1. */
  permutation(n: number): Uint32Array;
}

// Module-level copies: inside Jest's VM sandbox every `Math.x` is a slow global lookup (about 50
// times slower), and this generator runs millions of times per data set.
const { imul, sqrt, log, cos, floor, PI } = Math;

export function seededRandom(seed: number): SeededRandom {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    // 1 - u keeps the logarithm finite (u can be 0, never 1).
    normal: () => sqrt(-2 * log(1 - next())) * cos(2 * PI * next()),
    permutation(n) {
      const order = new Uint32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
      for (let i = n - 1; i > 0; i--) {
        const j = floor(next() * (i + 1));
        const tmp = order[i]!;
        order[i] = order[j]!;
        order[j] = tmp;
      }
      return order;
    },
  };
}

/** Mixes several integers into one seed, e.g. (run seed, epoch). FNV-1a over the 32-bit parts. */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) h = imul(h ^ (p >>> 0), 0x01000193) >>> 0;
  return h;
}
