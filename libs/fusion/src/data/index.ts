export * from './dataset-error.js';
export * from './dataset-loader.js';
export * from './png-codec.js';
export * from './seeded-random.js';
export * from './synthetic-dataset.js';
