import { defineConfig } from 'vitest/config';

/**
 * Four tiers, all run by `npm test`:
 * - unit: pure and fast (engine rules, validation, plugin kit);
 * - cdk: template tests on synthesized stacks (bundling skipped);
 * - integration: real SDK adapters against a private moto_server per test file;
 * - browser: the web console in headless Chromium against a local cloud (test/browser);
 * - load (`npm run test:load`, not part of `npm test`): 100 runs at once on the local cloud.
 */
export default defineConfig({
  test: {
    reporters: ['default'],
    // moto_server and cfn-lint from PATH, or installed (pinned) into .plugboard/python when missing.
    globalSetup: ['test/support/python-tools.ts'],
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
          // The burst of 100 runs takes minutes of both cores: its own command, `npm run test:load`.
          exclude: ['test/integration/engine-load.test.ts'],
          environment: 'node',
          pool: 'forks',
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          // The console in headless Chromium (Debian's package) against a local cloud.
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          environment: 'node',
          pool: 'forks',
          testTimeout: 180_000,
          hookTimeout: 600_000,
        },
      },
      {
        test: {
          name: 'load',
          include: ['test/integration/engine-load.test.ts'],
          environment: 'node',
          pool: 'forks',
          testTimeout: 900_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
