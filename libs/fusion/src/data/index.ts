export * from './dataset-error.js';
export * from './dataset-loader.js';
export * from './dataset-registration.js';
export * from './png-codec.js';
export * from './seeded-random.js';
export * from './split-assignment.js';
export * from './synthetic-clinical.js';
export * from './synthetic-dataset.js';
