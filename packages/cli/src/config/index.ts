export * from './schema.js';
export * from './load.js';
export * from './paths.js';
export { demoConfig } from './default.js';
