export * from './api-client.js';
export * from './isolated-resources.js';
export * from './services.js';
export * from './wait-for.js';
export * from './app-process.js';
export * from './dicom-writer.js';
export * from './archive-writer.js';
export * from './training-stack.js';
