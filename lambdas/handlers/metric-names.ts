/**
 * The engine's CloudWatch metric names, in one module with no runtime dependency: the handlers emit
 * them (observability.ts), the dashboard, the metrics report and the CLI read them.
 */
export const METRICS_NAMESPACE = 'Plugboard';

export const METRIC_NAMES = {
  runsStarted: 'RunsStarted',
  runsCompleted: 'RunsCompleted',
  runsFailed: 'RunsFailed',
  runsCancelled: 'RunsCancelled',
  runDuration: 'RunDuration',
  stageDuration: 'StageDuration',
  stageOverhead: 'StageOverhead',
  pluginDuration: 'PluginDuration',
  pluginErrors: 'PluginErrors',
  pluginTimeouts: 'PluginTimeouts',
  pluginRetries: 'PluginRetries',
  lateReports: 'LateReports',
  quarantined: 'QuarantinedMessages',
  /** Inbox messages refused for their sender (`unauthenticated sender: …`); alarmed by the metrics stack. */
  unauthenticatedSenders: 'UnauthenticatedSenders',
  /** Reports accepted for a registration without principals (made before they existed): redeploy its stack. */
  legacySenderReports: 'LegacySenderReports',
} as const;
