export * from './sweep-optimizers.js';
export * from './trial-records.js';
export * from './sweep-driver.js';
