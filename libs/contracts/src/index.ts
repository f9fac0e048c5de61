export * from './api-key.schema.js';
export * from './dataset.schema.js';
export * from './pagination.schema.js';
export * from './queues.js';
export * from './training-job.schema.js';
export * from './workflow.schema.js';
export * from './training-control.js';
export * from './training-events.js';
