export * from './assembly.js';
export * from './cloud.js';
export * from './deployer.js';
export * from './errors.js';
export * from './intrinsics.js';
export * from './lambda-runner.js';
export * from './local-cloud.js';
export * from './topology.js';
