export * from './attention-head.js';
export * from './attention-layers.js';
export * from './attention-losses.js';
export * from './supervised-objective.js';
