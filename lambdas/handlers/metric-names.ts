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
  /**
   * Age in seconds of the oldest run already due that a sweep left for the next one (0: it reached
   * every due run). Above 0, deadlines are enforced late; alarmed by the metrics stack (ADR 0010).
   */
  sweeperLag: 'SweeperLagSeconds',
  /** Age in seconds of the oldest due run at the start of a sweep (dashboard). */
  sweeperOldestDue: 'SweeperOldestDueSeconds',
  /** Timeout commands a sweep sent. */
  sweeperTimeouts: 'SweeperTimeoutsSent',
} as const;
