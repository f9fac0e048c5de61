export * from './graceful-shutdown.js';
export * from './health-server.js';
export * from './logger.js';
export * from './periodic-task.js';
export * from './headless-app.js';
export * from './prototype-integrity.js';
