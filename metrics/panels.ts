/**
 * Titles of the dashboard's graphs: its public vocabulary. The CloudWatch dashboard and the local
 * HTML report use the same words, so a person moving from one to the other finds the same panels.
 * (No CDK import here: the report runs outside the CDK app.)
 */
export const PANEL_TITLES = {
  active: 'Active runs per workflow',
  inactive: (minutes: number) => `Inactive runs (no progress for ${minutes} min) per workflow`,
  stuck: (minutes: number) => `Stuck runs (no progress for ${minutes} min) per workflow`,
  throughput: 'Throughput: runs started and completed per minute',
  failures: 'Failures: runs failed and cancelled, failure rate',
  runDuration: 'Run duration p50 / p99 (ms)',
  stageDuration: 'Stage duration p50 / p99 (ms)',
  stageOverhead: 'Stage overhead p50 / p99 (ms)',
  pluginErrors: 'Plugin errors per plugin',
  slowestPlugins: 'Slowest plugins: duration p99 / p50 (ms)',
  failedRuns: 'Failed runs',
  pluginRetries: 'Plugin retries per plugin',
  pluginTimeouts: 'Plugin timeouts per plugin',
  deadLetters: 'Dead-letter queue depth',
  lambdaErrors: 'Lambda errors',
  lambdaThrottles: 'Lambda throttles',
  alarms: 'Alarms',
  atAGlance: 'At a glance',
  slowestPluginsP99: 'Slowest plugins: duration p99 (ms)',
  inboxBacklogAge: 'Stage inboxes: age of the oldest message (s)',
  lambdaDuration: 'Lambda duration p99 (ms)',
  tableThrottles: 'Status table: throttle events',
  tableCapacity: 'Status table: consumed capacity units',
} as const;
