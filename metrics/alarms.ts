/**
 * The alarms of a Plugboard deployment, each with an SNS action (alarm and OK) to the alerts topic:
 * any message in a dead-letter queue, a workflow's failure rate over its threshold, any stuck run,
 * any inbox message refused for its sender (a plugin speaking for another, or a forged command), and
 * a liveness function that stopped reporting or keeps failing.
 */
import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, type IMetric, Stats, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRIC_NAMES } from '../lambdas/handlers/metric-names.js';
import type { PlugboardMetricFactory } from './metric-factory.js';

export interface MetricsAlarmsProps {
  readonly factory: PlugboardMetricFactory;
  /** Where every alarm sends its ALARM and OK notifications. */
  readonly alertsTopic: ITopic;
  /** One failure-rate alarm each. */
  readonly workflows: readonly string[];
  /** One depth alarm each (physical queue names). */
  readonly deadLetterQueueNames: readonly string[];
  /**
   * Failed runs as a percentage of started runs over 5 minutes above which a workflow alarms.
   * @default 5
   */
  readonly failureRateThresholdPercent?: number;
  /** The liveness function, watched for silence and errors. */
  readonly livenessFunction: IFunction;
  /** Prefix of every alarm description, e.g. `Plugboard plugboard-dev`. */
  readonly title: string;
  /**
   * Where to look, appended to every alarm's description (so to every notification): the dashboard
   * and the saved Logs Insights queries, with their console links.
   * @default - nothing appended
   */
  readonly whereToLook?: string;
  /** The deployment stage, for the CLI commands the descriptions quote. @default - no --stage */
  readonly deploymentStage?: string;
}

/** Default failure-rate threshold: 5 % of the runs started in 5 minutes. */
export const DEFAULT_FAILURE_RATE_THRESHOLD_PERCENT = 5;

export class MetricsAlarms extends Construct {
  /** Every alarm, in the order the dashboard lists them. */
  readonly alarms: Alarm[] = [];
  readonly stuckRuns: Alarm;
  readonly livenessSilent: Alarm;
  readonly livenessErrors: Alarm;
  readonly failureRate: ReadonlyMap<string, Alarm>;
  readonly deadLetters: ReadonlyMap<string, Alarm>;
  readonly unauthenticatedSenders: Alarm;

  private readonly action: SnsAction;
  private readonly whereToLook: string | undefined;

  constructor(scope: Construct, id: string, props: MetricsAlarmsProps) {
    super(scope, id);
    const { factory, title } = props;
    this.whereToLook = props.whereToLook;
    const cli = `npx plugboard${props.deploymentStage ? ` --stage ${props.deploymentStage}` : ''}`;
    this.action = new SnsAction(props.alertsTopic);
    const threshold = props.failureRateThresholdPercent ?? DEFAULT_FAILURE_RATE_THRESHOLD_PERCENT;

    this.stuckRuns = this.add('StuckRuns', {
      metric: factory.stuckRuns(),
      threshold: 0,
      description: `${title}: at least one run has made no progress for the stuck threshold. The alerts topic names each run once; inspect it with \`${cli} status <workflow> <uid>\` or list them with \`${cli} list --state stuck\`.`,
    });

    const failureRate = new Map<string, Alarm>();
    for (const workflow of props.workflows) {
      failureRate.set(
        workflow,
        this.add(`FailureRate-${workflow}`, {
          metric: factory.failureRatePercent(workflow, Duration.minutes(5)),
          threshold,
          description: `${title}: more than ${threshold}% of the runs of workflow "${workflow}" started in 5 minutes failed (RunsFailed / RunsStarted).`,
        }),
      );
    }
    this.failureRate = failureRate;

    const deadLetters = new Map<string, Alarm>();
    for (const queueName of props.deadLetterQueueNames) {
      deadLetters.set(
        queueName,
        this.add(`DeadLetters-${queueName}`, {
          metric: factory.deadLetterQueueDepth(queueName, Duration.minutes(1)),
          threshold: 0,
          description: `${title}: messages are waiting in the dead-letter queue ${queueName}. Read the reason attribute of each message, fix the cause, then redrive or delete them.`,
        }),
      );
    }
    this.deadLetters = deadLetters;

    // A refused sender is never noise: a plugin forged a report for another or sent an engine command.
    this.unauthenticatedSenders = this.add('UnauthenticatedSenders', {
      metric: factory.engineMetric(METRIC_NAMES.unauthenticatedSenders, {}, { period: Duration.minutes(5) }),
      threshold: 0,
      description: `${title}: a stage inbox refused messages for their sender (SQS SenderId not a registered principal of the plugin, or a command not from the engine). Each is in the inbox's dead-letter queue with the reason "unauthenticated sender: …" naming the sender id; find the role with \`aws iam list-roles\` (RoleId) and see docs/security.md.`,
    });

    // The liveness function puts data points every schedule tick: silence means no stuck-run detection.
    this.livenessSilent = this.add('LivenessSilent', {
      metric: factory.activeRuns().with({ statistic: Stats.SAMPLE_COUNT, period: Duration.minutes(5) }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: TreatMissingData.BREACHING,
      description: `${title}: the liveness function has put no ActiveWorkflows data point for 10 minutes, so stuck runs would go unnoticed. Check its log group and errors.`,
    });
    this.livenessErrors = this.add('LivenessErrors', {
      metric: props.livenessFunction.metricErrors({ period: Duration.minutes(5), statistic: Stats.SUM }),
      threshold: 0,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      description: `${title}: the liveness function failed in 2 of the last 3 five-minute periods (e.g. stuck-run alerts it could not publish). Check its log group.`,
    });
  }

  private add(
    id: string,
    options: {
      readonly metric: IMetric;
      readonly threshold: number;
      readonly description: string;
      readonly comparisonOperator?: ComparisonOperator;
      readonly evaluationPeriods?: number;
      readonly datapointsToAlarm?: number;
      readonly treatMissingData?: TreatMissingData;
    },
  ): Alarm {
    const alarm = new Alarm(this, id, {
      metric: options.metric,
      threshold: options.threshold,
      comparisonOperator: options.comparisonOperator ?? ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: options.evaluationPeriods ?? 1,
      datapointsToAlarm: options.datapointsToAlarm ?? options.evaluationPeriods ?? 1,
      treatMissingData: options.treatMissingData ?? TreatMissingData.NOT_BREACHING,
      alarmDescription: this.whereToLook ? `${options.description} ${this.whereToLook}` : options.description,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms.push(alarm);
    return alarm;
  }
}
