export * from './deployment-context.js';
export * from './events-config.js';
export * from './workflow-config.js';
