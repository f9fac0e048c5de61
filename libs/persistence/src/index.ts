export * from './data-source.js';
export * from './entities/index.js';
export * from './migrations/index.js';
export * from './repositories/training-job.repository.js';
export * from './repositories/idempotency-record.repository.js';
export * from './repositories/training-checkpoint.repository.js';
export * from './repositories/training-run.repository.js';
export * from './repositories/sweep.repository.js';
