export * from './deployment-context.js';
export * from './workflow-config.js';
