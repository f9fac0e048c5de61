export { DataParallel } from './data-parallel.js';
export { WeightDivergenceError, type DataParallelGroup, type DistributedTraining } from './data-parallel-group.js';
export { shardOfStep, dataParallelStepsPerEpoch } from './batch-shard.js';
export { weightChecksum } from './weight-checksum.js';
