import type { SeededRandom } from './seeded-random.js';

export type SplitName = 'train' | 'val' | 'test';
export type SplitFractions = Record<SplitName, number>;

/**
 * Assigns each of n cases to a split by a seeded shuffle: the first round(n * train) cases of the
 * shuffle train, the next round(n * val) validate and the rest test, so the sizes are the fractions
 * rounded (test takes the remainder) and which case lands where is random but reproducible.
 */
export function assignSplits(rng: SeededRandom, n: number, fractions: SplitFractions): { splitOf: SplitName[]; sizes: Record<SplitName, number> } {
  const values = [fractions.train, fractions.val, fractions.test];
  if (values.some((f) => !Number.isFinite(f) || f < 0) || Math.abs(values.reduce((a, b) => a + b, 0) - 1) > 1e-6) {
    throw new RangeError(`split fractions must be non-negative and sum to 1, got train ${fractions.train}, val ${fractions.val}, test ${fractions.test}`);
  }
  const train = Math.round(n * fractions.train);
  if (train === 0) throw new RangeError(`a train fraction of ${fractions.train} leaves no training case out of ${n}`);
  // Both roundings can go up (0.5 / 0.5 / 0 of an odd n): val yields so test never goes negative.
  const val = Math.min(Math.round(n * fractions.val), n - train);
  const splitOf = new Array<SplitName>(n);
  rng.permutation(n).forEach((caseIndex, rank) => (splitOf[caseIndex] = rank < train ? 'train' : rank < train + val ? 'val' : 'test'));
  return { splitOf, sizes: { train, val, test: n - train - val } };
}
