export * from './catalog.js';
export * from './registry.js';
export * from './collectors.js';
