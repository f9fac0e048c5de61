export * from './artifact-store.js';
export * from './confined-path.js';
