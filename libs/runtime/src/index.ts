export * from './graceful-shutdown.js';
export * from './health-server.js';
export * from './logger.js';
