/**
 * `@plugboard/plugin-kit/testing`: run a plugin against a realistic message without AWS and assert on
 * its reports. Framework-agnostic (works with vitest, jest, node:test).
 */
export * from './fakes.js';
export * from './messages.js';
export * from './run-plugin.js';
