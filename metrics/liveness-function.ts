/**
 * The scheduled liveness function with its schedule and a least-privilege role: it queries the
 * `active` index and reads stage items of run partitions, writes only the two alert attributes of
 * run items, puts metrics in the Plugboard namespace and publishes to the alerts topic.
 */
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, type CfnFunction, LoggingFormat } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ORCHESTRATOR_BUNDLING, ORCHESTRATOR_RUNTIME } from '../lib/orchestrator-function.js';
import { TABLE_LAYOUT } from '../plugin-kit/src/contracts/table-layout.js';
import type { LivenessThresholds } from './config.js';
import { ALERT_ATTRIBUTES, METRICS_ENV } from './names.js';

export interface LivenessFunctionProps extends LivenessThresholds {
  /** The status table (imported from the core stack's exports). */
  readonly tableName: string;
  readonly tableArn: string;
  readonly deploymentStage: string;
  /**
   * Lines a stuck-run alert adds about where to look; `{uid}` is replaced by the run's uid.
   * @default - the alert names the CLI command only
   */
  readonly whereToLook?: string;
  /** Every configured workflow (each gets data points every run). */
  readonly workflows: readonly string[];
  readonly alertsTopic: ITopic;
  /** The KMS key that encrypts the alerts topic (publishing needs it). */
  readonly alertsKey: IKey;
  /** Namespace the function may put metrics in. */
  readonly namespace: string;
  /** How often the check runs (whole minutes). */
  readonly schedule: Duration;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/** Attributes `UpdateItem` may touch: the keys, the two it sets, and the two its condition reads. */
export const ALERT_WRITE_ATTRIBUTES: readonly string[] = [
  TABLE_LAYOUT.partitionKey,
  TABLE_LAYOUT.sortKey,
  ALERT_ATTRIBUTES.alertedAt,
  ALERT_ATTRIBUTES.alertedProgress,
  TABLE_LAYOUT.activeIndex.partitionKey,
  'updatedAt',
];

/** Partition keys the function may read or write: run partitions only (never the plugin registry). */
export const RUN_PARTITIONS = 'RUN#*';

export class LivenessFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: LivenessFunctionProps) {
    super(scope, id);

    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'Runs the Plugboard liveness check (active, inactive and stuck runs)',
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: fileURLToPath(new URL('./handler.ts', import.meta.url)),
      handler: 'handler',
      description: `Plugboard ${props.deploymentStage}: counts active, inactive and stuck runs; alerts once per stuck run`,
      runtime: ORCHESTRATOR_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: 256,
      // Shorter than the schedule, so checks do not pile up.
      timeout: Duration.seconds(Math.min(55, props.schedule.toSeconds() - 5)),
      environment: {
        [METRICS_ENV.tableName]: props.tableName,
        [METRICS_ENV.deploymentStage]: props.deploymentStage,
        [METRICS_ENV.workflows]: JSON.stringify(props.workflows),
        [METRICS_ENV.alertsTopicArn]: props.alertsTopic.topicArn,
        [METRICS_ENV.inactiveMinutes]: String(props.inactiveMinutes),
        [METRICS_ENV.stuckMinutes]: String(props.stuckMinutes),
        ...(props.whereToLook ? { [METRICS_ENV.whereToLook]: props.whereToLook } : {}),
        NODE_OPTIONS: '--enable-source-maps',
      },
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      // keepNames: the typed errors name themselves after their class (`new.target.name`), which
      // minification would otherwise shorten to one or two letters in the logs.
      bundling: { ...ORCHESTRATOR_BUNDLING, keepNames: true },
    });

    // Active tracing; X-Ray has no resource-level permissions, so its `*` lives in a policy of its own.
    const tracing = new Policy(this, 'TracingPolicy', {
      statements: [
        new PolicyStatement({
          actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
          resources: ['*'],
        }),
      ],
      roles: [this.role],
    });
    (this.function.node.defaultChild as CfnFunction).tracingConfig = { mode: 'Active' };
    this.function.node.addDependency(tracing);
    Validations.of(tracing).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions; this policy holds nothing else.',
    });

    this.grantLeastPrivilege(props);

    this.schedule = new Rule(this, 'Schedule', {
      description: `Plugboard ${props.deploymentStage}: runs the liveness check every ${props.schedule.toMinutes()} minute(s)`,
      schedule: Schedule.rate(props.schedule),
      targets: [new LambdaFunction(this.function, { retryAttempts: 2, maxEventAge: Duration.minutes(1) })],
    });
    const missedTick =
      'A failed check is superseded by the next scheduled check a minute later (checks are idempotent: alerts are claimed with a conditional write); failures show in the function’s Errors metric, which has its own alarm.';
    Validations.of(this.schedule).acknowledge({ id: 'Serverless-EventBusDLQ', reason: missedTick });
    Validations.of(this.function).acknowledge({ id: 'Serverless-LambdaDLQ', reason: missedTick });
  }

  private grantLeastPrivilege(props: LivenessFunctionProps): void {
    const policy = new Policy(this, 'AccessPolicy', {
      roles: [this.role],
      statements: [
        // Counts and the projected listing of stale runs: the `active` index only (Select COUNT or
        // specific attributes, never the whole table).
        new PolicyStatement({
          sid: 'QueryActiveIndex',
          actions: ['dynamodb:Query'],
          resources: [`${props.tableArn}/index/${TABLE_LAYOUT.activeIndex.name}`],
          conditions: { StringEquals: { 'dynamodb:Select': ['COUNT', 'SPECIFIC_ATTRIBUTES'] } },
        }),
        // Run and stage items by key (the index projects keys only), in run partitions only.
        new PolicyStatement({
          sid: 'ReadRunAndStageItems',
          actions: ['dynamodb:BatchGetItem'],
          resources: [props.tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [RUN_PARTITIONS] } },
        }),
        // The alert ledger: UpdateItem on run partitions touching only the alert attributes (plus the
        // keys and the two attributes its condition reads), returning nothing.
        new PolicyStatement({
          sid: 'RememberStuckAlerts',
          actions: ['dynamodb:UpdateItem'],
          resources: [props.tableArn],
          conditions: {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [RUN_PARTITIONS] },
            'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...ALERT_WRITE_ATTRIBUTES] },
            StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE'] },
          },
        }),
        new PolicyStatement({
          sid: 'PublishStuckAlerts',
          actions: ['sns:Publish'],
          resources: [props.alertsTopic.topicArn],
        }),
        new PolicyStatement({
          sid: 'EncryptAlerts',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [props.alertsKey.keyArn],
        }),
      ],
    });
    const putMetrics = new Policy(this, 'PutMetricDataPolicy', {
      roles: [this.role],
      statements: [
        new PolicyStatement({
          actions: ['cloudwatch:PutMetricData'],
          resources: ['*'],
          conditions: { StringEquals: { 'cloudwatch:namespace': props.namespace } },
        }),
      ],
    });
    Validations.of(putMetrics).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: `cloudwatch:PutMetricData supports no resource-level permissions; the cloudwatch:namespace condition limits it to the ${props.namespace} namespace, and this policy holds nothing else.`,
    });
    this.function.node.addDependency(policy, putMetrics);
  }
}
