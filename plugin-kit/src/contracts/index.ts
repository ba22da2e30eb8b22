export * from './environment.js';
export * from './exports.js';
export * from './held-plugins.js';
export * from './limits.js';
export * from './schemas.js';
export * from './states.js';
export * from './status-item.js';
export * from './table-layout.js';
