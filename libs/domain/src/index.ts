export * from './access-policy.js';
export * from './training-job-transitions.js';
export * from './workflow-graph.js';
export * from './gang-admission.js';
