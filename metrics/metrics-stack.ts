/**
 * `<system>-<stage>-metrics`: liveness metrics, stuck-run alerts, the dashboard and the alarms of one
 * Plugboard deployment. It imports the core stack's exports by name (never by construct reference),
 * so it deploys on its own once core is deployed.
 */

import {
  Aws,
  CfnOutput,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  type StackProps,
  Token,
  Validations,
} from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../lambdas/handlers/metric-names.js';
import { tagEngineRole } from '../lib/engine-identity.js';
import { type DeploymentRef, EXPORTS } from '../plugin-kit/src/contracts/exports.js';
import { DEFAULT_FAILURE_RATE_THRESHOLD_PERCENT, MetricsAlarms } from './alarms.js';
import { PlugboardDashboard } from './dashboard.js';
import { MetricsStackPropsError, type PropProblem } from './errors.js';
import { LivenessFunction } from './liveness-function.js';
import { PlugboardLogQueries, UID_PLACEHOLDER } from './log-queries.js';
import { PlugboardMetricFactory } from './metric-factory.js';
import {
  alertsTopicExportName,
  DEFAULT_INACTIVE_MINUTES,
  DEFAULT_STUCK_MINUTES,
  inboxDeadLetterQueueNames,
  inboxQueueNames,
} from './names.js';

/** CDK context key of the alert email address: `--context alarmEmail=ops@example.com`. */
export const ALARM_EMAIL_CONTEXT = 'alarmEmail';

export interface MetricsStackProps extends StackProps {
  /** Which Plugboard deployment this is: the core exports it imports are named after it. */
  readonly deployment: DeploymentRef;
  /** Every workflow of the config, by name: each gets liveness data points, graphs and a failure-rate alarm. */
  readonly workflows: readonly string[];
  /** Every declared activity: the dead-letter queues of its three stage inboxes are graphed and alarmed. */
  readonly activities: readonly string[];
  /**
   * Email address subscribed to the alerts topic (alarms and stuck-run alerts). The address must
   * confirm the subscription from the first email.
   * @default - the `alarmEmail` context value; no subscription when neither is set
   */
  readonly alarmEmail?: string;
  /**
   * How often the liveness check runs (whole minutes).
   * @default Duration.minutes(1)
   */
  readonly schedule?: Duration;
  /**
   * Time without progress after which an active run counts as inactive (whole minutes).
   * @default Duration.minutes(10) (the Overseer's rule)
   */
  readonly inactiveAfter?: Duration;
  /**
   * Time without progress after which an active run counts as stuck and alerts (whole minutes, more
   * than `inactiveAfter`).
   * @default Duration.minutes(20) (the Overseer's rule)
   */
  readonly stuckAfter?: Duration;
  /**
   * Failed runs as a percentage of started runs, over 5 minutes, above which a workflow alarms.
   * @default 5
   */
  readonly failureRateThresholdPercent?: number;
  /**
   * Dead-letter queues to graph and alarm besides the stage inbox ones (which are derived from
   * `activities`: `<system>-<stage>-<activity>-<stage>-inbox-dlq`), e.g. the start queue's.
   * @default - none
   */
  readonly additionalDeadLetterQueueNames?: readonly string[];
  /**
   * Lambda functions whose errors and throttles are graphed by name, besides every function whose
   * name starts with `<system>-<stage>` (found by a dashboard search: CloudFormation names functions
   * after their stack, so this covers the core, activity and metrics stacks' functions).
   * @default - none
   */
  readonly functionNames?: readonly string[];
  /**
   * Log groups the saved Logs Insights queries search (the orchestrators' and the start function's).
   * @default - none preselected; the queries are saved, and the log groups are picked when running one
   */
  readonly logGroupNames?: readonly string[];
  /**
   * Value of the `service` dimension on the handlers' EMF metrics (Powertools' service name, which
   * the orchestrator functions receive as `POWERTOOLS_SERVICE_NAME`).
   * @default - the deployment's `systemName`
   */
  readonly emfService?: string;
  /**
   * Whether the deployment stage is ephemeral: the function's log group is destroyed with the stack.
   * @default false
   */
  readonly ephemeral?: boolean;
  /**
   * How long the liveness function's logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
}

/**
 * The metrics stack. Wire it after the core stack:
 * `new MetricsStack(app, 'plugboard-dev-metrics', { deployment, workflows, activities })`.
 */
export class MetricsStack extends Stack {
  readonly deployment: DeploymentRef;
  readonly factory: PlugboardMetricFactory;
  readonly alertsTopic: Topic;
  readonly liveness: LivenessFunction;
  readonly alarms: MetricsAlarms;
  readonly dashboard: PlugboardDashboard;
  /** The saved Logs Insights queries (by uid, by workflow, errors). */
  readonly logQueries: PlugboardLogQueries;
  /** The dead-letter queues graphed and alarmed. */
  readonly deadLetterQueueNames: readonly string[];
  /** The email subscribed to the alerts topic, if any. */
  readonly alarmEmail: string | undefined;

  constructor(scope: Construct, id: string, props: MetricsStackProps) {
    super(scope, id, props);
    const alarmEmail = props.alarmEmail ?? contextString(this.node.tryGetContext(ALARM_EMAIL_CONTEXT));
    const settings = validate(props, alarmEmail);
    const d = props.deployment;
    const prefix = `${d.systemName}-${d.stage}`;
    this.deployment = d;
    this.alarmEmail = alarmEmail;

    const tableName = Fn.importValue(EXPORTS.statusTableName(d));
    const tableArn = Fn.importValue(EXPORTS.statusTableArn(d));
    // The core key already lets CloudWatch (alarm actions) use it; imported keys cannot be changed here.
    const key: IKey = Key.fromKeyArn(this, 'CoreKey', Fn.importValue(EXPORTS.keyArn(d)));

    this.alertsTopic = new Topic(this, 'AlertsTopic', {
      displayName: `Plugboard ${prefix} alerts`,
      masterKey: key,
      enforceSSL: true,
    });
    this.alertsTopic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowAlarmsOfThisAccount',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alertsTopic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: {
            'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*`,
          },
        },
      }),
    );
    if (alarmEmail !== undefined) {
      const subscription = this.alertsTopic.addSubscription(new EmailSubscription(alarmEmail));
      Validations.of(subscription).acknowledge({
        id: 'Serverless-SNSRedrivePolicy',
        reason:
          'An email that cannot be delivered is not worth queueing for a later redrive (alarms re-notify on every state change, stuck runs show on the dashboard); SNS counts failed deliveries in NumberOfNotificationsFailed.',
      });
    }

    this.factory = new PlugboardMetricFactory({
      deploymentStage: d.stage,
      emfService: props.emfService ?? d.systemName,
      namespace: METRICS_NAMESPACE,
    });

    this.logQueries = new PlugboardLogQueries(this, 'LogQueries', {
      folder: prefix,
      workflows: props.workflows,
      ...(props.logGroupNames ? { logGroupNames: props.logGroupNames } : {}),
    });
    const consoleUrl = `https://console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}`;
    const dashboardUrl = `${consoleUrl}#dashboards:name=${prefix}`;
    const logsInsightsUrl = `${consoleUrl}#logsV2:logs-insights`;
    const queryName = (key: string) => this.logQueries.names.get(key) ?? key;
    this.liveness = new LivenessFunction(this, 'Liveness', {
      tableName,
      tableArn,
      deploymentStage: d.stage,
      whereToLook: [
        `Dashboard: ${dashboardUrl}`,
        `Logs: ${logsInsightsUrl} , saved query "${queryName('run')}" with {uid} for ${UID_PLACEHOLDER}.`,
      ].join('\n'),
      workflows: props.workflows,
      alertsTopic: this.alertsTopic,
      alertsKey: key,
      namespace: METRICS_NAMESPACE,
      schedule: settings.schedule,
      inactiveMinutes: settings.inactiveMinutes,
      stuckMinutes: settings.stuckMinutes,
      logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
      logRemovalPolicy: props.ephemeral ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    // An engine role: it writes the alert ledger of stuck runs (lib/engine-identity.ts).
    tagEngineRole(this.liveness.role, d);

    this.deadLetterQueueNames = [
      ...inboxDeadLetterQueueNames(d, props.activities),
      ...(props.additionalDeadLetterQueueNames ?? []),
    ];
    const title = `Plugboard ${prefix}`;
    this.alarms = new MetricsAlarms(this, 'Alarms', {
      deploymentStage: d.stage,
      whereToLook: `Where to look: the dashboard ${dashboardUrl} ; Logs Insights (${logsInsightsUrl}), saved queries "${queryName('errors')}" and "${queryName('run')}".`,
      factory: this.factory,
      alertsTopic: this.alertsTopic,
      workflows: props.workflows,
      deadLetterQueueNames: this.deadLetterQueueNames,
      failureRateThresholdPercent: settings.failureRateThresholdPercent,
      livenessFunction: this.liveness.function,
      title,
    });

    this.dashboard = new PlugboardDashboard(this, 'Dashboard', {
      factory: this.factory,
      dashboardName: prefix,
      workflows: props.workflows,
      deadLetterQueueNames: this.deadLetterQueueNames,
      inboxQueueNames: inboxQueueNames(d, props.activities),
      tableName,
      functionNames: props.functionNames ?? [],
      functionNamePart: prefix,
      alarms: this.alarms.alarms,
      thresholds: settings,
      description: [
        `# ${title}`,
        `Runs are **inactive** after ${settings.inactiveMinutes} min without progress and **stuck** after ${settings.stuckMinutes} min (one alert per stuck run on the alerts topic). Inspect a run with \`npx plugboard --stage ${d.stage} status <workflow> <uid>\`.`,
        `Logs: [Logs Insights](${logsInsightsUrl}) → Saved queries → \`${prefix}\`: "${queryName('run')}" (replace the uid), "${queryName('errors')}", and one per workflow.`,
      ].join('\n'),
    });

    new CfnOutput(this, 'AlertsTopicArn', {
      value: this.alertsTopic.topicArn,
      exportName: alertsTopicExportName(d),
      description:
        'ARN of the alerts topic (alarms and stuck-run alerts); subscribe email, chat or paging to it',
    });
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards:name=${prefix}`,
      description: 'The CloudWatch dashboard of this deployment',
    });
  }
}

interface Settings {
  readonly schedule: Duration;
  readonly inactiveMinutes: number;
  readonly stuckMinutes: number;
  readonly failureRateThresholdPercent: number;
}

function contextString(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** Checks every prop, collects every problem and throws once. Unresolved tokens are skipped. */
function validate(props: MetricsStackProps, alarmEmail: string | undefined): Settings {
  const problems: PropProblem[] = [];
  const wholeMinutes = (prop: string, value: Duration | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    if (value.isUnresolved()) return fallback;
    const minutes = value.toMinutes({ integral: false });
    if (!Number.isInteger(minutes) || minutes < 1) {
      problems.push({
        prop,
        value: value.toHumanString(),
        message: 'must be a whole number of minutes, at least 1',
      });
      return fallback;
    }
    return minutes;
  };
  const scheduleMinutes = wholeMinutes('schedule', props.schedule, 1);
  const inactiveMinutes = wholeMinutes('inactiveAfter', props.inactiveAfter, DEFAULT_INACTIVE_MINUTES);
  const stuckMinutes = wholeMinutes('stuckAfter', props.stuckAfter, DEFAULT_STUCK_MINUTES);
  if (stuckMinutes <= inactiveMinutes) {
    problems.push({
      prop: 'stuckAfter',
      value: `${stuckMinutes} minutes`,
      message: `must be longer than inactiveAfter (${inactiveMinutes} minutes)`,
    });
  }
  if (props.workflows.length === 0) {
    problems.push({
      prop: 'workflows',
      value: [],
      message: 'list at least one workflow name (from plugboard.config.ts)',
    });
  }
  const duplicates = props.workflows.filter((w, i) => props.workflows.indexOf(w) !== i);
  if (duplicates.length > 0) {
    problems.push({ prop: 'workflows', value: duplicates, message: 'lists these workflows more than once' });
  }
  const threshold = props.failureRateThresholdPercent ?? DEFAULT_FAILURE_RATE_THRESHOLD_PERCENT;
  if (!Token.isUnresolved(threshold) && !(threshold > 0 && threshold <= 100)) {
    problems.push({
      prop: 'failureRateThresholdPercent',
      value: threshold,
      message: 'must be a percentage above 0 and at most 100',
    });
  }
  if (
    alarmEmail !== undefined &&
    !Token.isUnresolved(alarmEmail) &&
    !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)
  ) {
    problems.push({
      prop: 'alarmEmail',
      value: alarmEmail,
      message: `is not an email address; pass e.g. --context ${ALARM_EMAIL_CONTEXT}=ops@example.com`,
    });
  }
  if (problems.length > 0) throw new MetricsStackPropsError(problems);
  return {
    schedule: Duration.minutes(scheduleMinutes),
    inactiveMinutes,
    stuckMinutes,
    failureRateThresholdPercent: threshold,
  };
}
