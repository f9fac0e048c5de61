export * from './queue-settings.js';
export * from './redis-connection.js';
export * from './training-queue.js';
export * from './training-reconciler.js';
export * from './service-connections.js';
export * from './training-event-bus.js';
export * from './training-control-requester.js';
export * from './sweep-event-bus.js';
