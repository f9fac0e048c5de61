/**
 * Data-parallel batches: `batchSize` is the per-rank batch, so one step consumes a global batch of
 * batchSize x worldSize cases of the epoch order, and rank r takes the r-th slice of it. The
 * slices of a step are disjoint and together are exactly what one rank with batch
 * batchSize x worldSize would take, so N ranks with batch B/N follow one rank with batch B.
 * The last global batch of an epoch may be short: the last ranks' slices then shrink or are empty.
 */
export function dataParallelStepsPerEpoch(cases: number, batchSize: number, worldSize: number): number {
  return Math.ceil(cases / (batchSize * worldSize));
}

export function shardOfStep(order: Uint32Array, step: number, batchSize: number, rank: number, worldSize: number): Uint32Array {
  const start = Math.min(order.length, (step * worldSize + rank) * batchSize);
  return order.subarray(start, Math.min(order.length, start + batchSize));
}
