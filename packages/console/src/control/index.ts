export * from './constants.js';
export * from './message.js';
export * from './resize.js';
export * from './port-name.js';
