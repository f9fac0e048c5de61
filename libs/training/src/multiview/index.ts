export * from './multiview-branch.js';
export * from './view-layers.js';
export * from './view-math.js';
export * from './view-loss.js';
