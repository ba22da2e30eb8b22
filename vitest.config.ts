import { defineConfig } from 'vitest/config';

/**
 * Three tiers, all run by `npm test`:
 * - unit: pure and fast (engine rules, validation, plugin kit);
 * - cdk: template tests on synthesized stacks (bundling skipped);
 * - integration: real SDK adapters against a private moto_server per test file.
 */
export default defineConfig({
  test: {
    reporters: ['default'],
    // Handlers under test log and emit EMF to stdout: keep test output readable.
    env: { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'ERROR' },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'plugin-kit/test/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'cdk',
          include: ['test/cdk/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          pool: 'forks',
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
