export * from './server.js';
export * from './readiness.js';
