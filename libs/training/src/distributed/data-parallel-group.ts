/**
 * What data-parallel training needs from a collective: `@medfusion/collective`'s CollectiveGroup
 * satisfies it, and so does a fake in tests. The training library depends on this interface only,
 * so it stays free of network code.
 */
export interface DataParallelGroup {
  readonly rank: number;
  readonly worldSize: number;
  /** Replaces `buffer` in place by the element-wise mean over all ranks, bit-identical on every rank. */
  allReduceMean(buffer: Float32Array): Promise<unknown>;
  /** Replaces `buffer` in place by rank `root`'s. */
  broadcast(buffer: Float32Array, root: number): Promise<unknown>;
}

/** The `distributed` option of a training session. */
export interface DistributedTraining {
  group: DataParallelGroup;
}

/** Ranks' weights differ after an epoch: every rank throws it, naming the ranks that differ from rank 0. */
export class WeightDivergenceError extends Error {
  readonly code = 'WEIGHT_DIVERGENCE';
  constructor(
    readonly epoch: number,
    readonly rank: number,
    readonly divergedRanks: number[],
  ) {
    super(
      `data-parallel ranks diverged after epoch ${epoch}: the weight checksum of rank(s) ${divergedRanks.join(', ')} differs from rank 0's ` +
        `(seen on rank ${rank}); the job stops because the replicas no longer train the same model (non-deterministic kernels, or corrupted data in transit)`,
    );
    this.name = 'WeightDivergenceError';
  }
}
