export * from './checkpoint-codec.js';
export * from './classification-metrics.js';
export * from './compute-backend.js';
export * from './fusion-model.js';
export * from './model-export.js';
export * from './training-session.js';
export * from './epoch-order.js';
export * from './fusion/index.js';
