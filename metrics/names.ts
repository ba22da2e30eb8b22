/**
 * Names the metrics component owns: the liveness metrics the scheduled function puts, the run-item
 * attributes it writes to remember an alert, the environment it reads, and the physical names it
 * derives by convention (dead-letter queues, exports). One place, so the function, the stack, the
 * dashboard and the local report can never disagree.
 */
import { type DeploymentRef, inboxQueueName } from '../plugin-kit/src/contracts/exports.js';
import { STAGE_NAMES, type StageName } from '../plugin-kit/src/contracts/states.js';

/** Metrics put by the scheduled liveness function (`PutMetricData`, namespace `Plugboard`). */
export const LIVENESS_METRIC_NAMES = {
  /** Runs that are not finished (the sparse `active` index), per workflow. */
  active: 'ActiveWorkflows',
  /** Active runs without progress for at least the inactive threshold but less than the stuck one. */
  inactive: 'InactiveWorkflows',
  /** Active runs without progress for at least the stuck threshold. */
  stuck: 'StuckWorkflows',
} as const;

/** Dimension names of every Plugboard metric. */
export const DIMENSIONS = {
  deploymentStage: 'deploymentStage',
  workflow: 'workflow',
  activity: 'activity',
  stage: 'stage',
  plugin: 'plugin',
  /** Added by Powertools to every EMF metric (its `serviceName`). */
  service: 'service',
} as const;

/**
 * Run-item attributes the liveness function writes, and nothing else: the progress timestamp it last
 * alerted for and when. A run that progresses and gets stuck again has a new progress timestamp, so it
 * alerts again; the same stuck episode never alerts twice.
 */
export const ALERT_ATTRIBUTES = {
  alertedAt: 'stuckAlertedAt',
  alertedProgress: 'stuckAlertedProgress',
} as const;

/** Environment variables of the liveness function; the stack sets them, `readMetricsConfig` reads them. */
export const METRICS_ENV = {
  tableName: 'PLUGBOARD_TABLE_NAME',
  deploymentStage: 'PLUGBOARD_DEPLOYMENT_STAGE',
  /** JSON array of the configured workflow names, e.g. `["order","refund"]`. */
  workflows: 'PLUGBOARD_WORKFLOWS',
  alertsTopicArn: 'PLUGBOARD_ALERTS_TOPIC_ARN',
  /** Whole minutes without progress after which a run counts as inactive (default 10). */
  inactiveMinutes: 'PLUGBOARD_INACTIVE_MINUTES',
  /** Whole minutes without progress after which a run counts as stuck and alerts (default 20). */
  stuckMinutes: 'PLUGBOARD_STUCK_MINUTES',
  /** Optional: where a stuck-run alert says to look (the dashboard, the saved Logs Insights query). */
  whereToLook: 'PLUGBOARD_WHERE_TO_LOOK',
} as const;

/** The Overseer's liveness thresholds: 10 minutes without progress = inactive, 20 = stuck/offline. */
export const DEFAULT_INACTIVE_MINUTES = 10;
export const DEFAULT_STUCK_MINUTES = 20;

/** Stack name of the metrics stack: `<system>-<stage>-metrics`. */
export const metricsStackName = (d: DeploymentRef): string => `${d.systemName}-${d.stage}-metrics`;

/** Export of the alerts topic ARN, for subscriptions made outside this stack (chat, paging). */
export const alertsTopicExportName = (d: DeploymentRef): string =>
  `${d.systemName}-${d.stage}-alerts-topic-arn`;

/** Dead-letter queue of one stage inbox: `<system>-<stage>-<activity>-<stage>-inbox-dlq`. */
export const inboxDeadLetterQueueName = (d: DeploymentRef, activity: string, stage: StageName): string =>
  `${inboxQueueName(d, activity, stage)}-dlq`;

/** The three inbox dead-letter queues of every activity, in declaration order. */
export function inboxDeadLetterQueueNames(d: DeploymentRef, activities: readonly string[]): string[] {
  return activities.flatMap((activity) =>
    STAGE_NAMES.map((stage) => inboxDeadLetterQueueName(d, activity, stage)),
  );
}

/** The three stage inbox queues of every activity, in declaration order. */
export function inboxQueueNames(d: DeploymentRef, activities: readonly string[]): string[] {
  return activities.flatMap((activity) => STAGE_NAMES.map((stage) => inboxQueueName(d, activity, stage)));
}
