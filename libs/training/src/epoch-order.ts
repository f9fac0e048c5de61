import { mixSeed, seededRandom } from '@medfusion/fusion';

/**
 * The order in which an epoch visits the training cases, from (seed, epoch) alone: a resumed run,
 * and every rank of a distributed run, sees exactly the same order.
 */
export function epochOrder(n: number, seed: number, epoch: number): Uint32Array {
  return seededRandom(mixSeed(seed, epoch)).permutation(n);
}
