/**
 * `@plugboard/plugin-kit/cdk`: plug a Lambda function into a Plugboard deployment with one construct.
 * Needs `aws-cdk-lib` and `constructs` (peer dependencies).
 */
export * from './filter-policy.js';
export * from './orchestrator-plugin.js';
export * from './orchestrator-queue-plugin.js';
export * from './plugin-function.js';
