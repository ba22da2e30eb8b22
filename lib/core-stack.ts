import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Token, Validations } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { AnyPrincipal, Effect, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import {
  type DeploymentRef,
  EXPORTS,
  PLUGIN_TAG_KEY,
  startQueueName,
} from '../plugin-kit/src/contracts/index.js';
import { declaredActivities, runtimeConfigJson, type WorkflowConfig } from './config/workflow-config.js';
import { DurableQueue } from './durable-queue.js';
import { ENGINE_TAG_KEY, engineTagValue, tagEngineRole } from './engine-identity.js';
import { PlugboardCdkError } from './errors.js';
import { LifecycleEventBus } from './lifecycle-event-bus.js';
import { ENV, orchestratorEnvironment } from './orchestrator-environment.js';
import { OrchestratorFunction } from './orchestrator-function.js';
import { StatusTable } from './status-table.js';
import { grantTableAccess } from './table-grants.js';

/** Every action that changes an item (PartiQL included): the status table's policy denies them. */
const TABLE_WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:PartiQLInsert',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PartiQLDelete',
] as const;

/** Timeout of the start function; its queue's visibility timeout is 6 × this. */
const START_TIMEOUT = Duration.seconds(30);

export interface CoreStackProps extends StackProps {
  /** Which Plugboard deployment this is: prefixes every export. */
  readonly deployment: DeploymentRef;
  /** The validated workflow config (handed to every function as `PLUGBOARD_CONFIG`). */
  readonly config: WorkflowConfig;
  /**
   * Whether the deployment stage is ephemeral: its table, key and log groups are destroyed with the
   * stack and the table has no deletion protection.
   * @default false
   */
  readonly ephemeral?: boolean;
  /**
   * Concurrency reserved for the sweeper.
   * @default - none: overlapping sweeps are harmless because every transition is a conditional write,
   * and reserving concurrency fails deployment on accounts with the minimum concurrency quota
   */
  readonly sweeperReservedConcurrency?: number;
}

/**
 * `<system>-<stage>-core`: what every activity shares. The status table, the KMS key of the topics,
 * the lifecycle events topic (and, with `events.eventBridge`, the event bus), the start queue and start function, the sweeper on a one-minute
 * schedule and the registrar (the service token of plugin registrations). Everything plugins and
 * activity stacks need is exported under the stable names of `EXPORTS` (docs/exports.md).
 */
export class CoreStack extends Stack {
  readonly deployment: DeploymentRef;
  readonly key: Key;
  readonly statusTable: StatusTable;
  readonly eventsTopic: Topic;
  /** Where lifecycle events also go with `events.eventBridge` on; absent when it is off. */
  readonly eventBus?: LifecycleEventBus;
  readonly startQueue: DurableQueue;
  readonly startFunction: OrchestratorFunction;
  readonly sweeperFunction: OrchestratorFunction;
  readonly registrarFunction: OrchestratorFunction;

  constructor(scope: Construct, id: string, props: CoreStackProps) {
    super(scope, id, props);
    validateProps(props);
    const d = props.deployment;
    this.deployment = d;
    const ephemeral = props.ephemeral ?? false;
    const statefulRemoval = ephemeral ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const prefix = `${d.systemName}-${d.stage}`;

    this.key = new Key(this, 'Key', {
      description: `Plugboard ${prefix}: encrypts the stage topics and the events topic`,
      enableKeyRotation: true,
      removalPolicy: statefulRemoval,
      ...(ephemeral ? { pendingWindow: Duration.days(7) } : {}),
    });
    // Services that publish to topics encrypted with this key on their own behalf (CloudWatch alarm
    // actions, EventBridge rules) need the key policy's permission; principals of this account use IAM.
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowAwsServicesOfThisAccountToPublishToEncryptedTopics',
        principals: [
          new ServicePrincipal('cloudwatch.amazonaws.com'),
          new ServicePrincipal('events.amazonaws.com'),
        ],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );

    this.statusTable = new StatusTable(this, 'StatusTable', {
      removalPolicy: statefulRemoval,
      deletionProtection: !ephemeral,
    });
    const table = this.statusTable.table;

    this.eventsTopic = new Topic(this, 'EventsTopic', {
      displayName: `Plugboard ${prefix} run lifecycle events`,
      masterKey: this.key,
      enforceSSL: true,
    });

    const eventBridge = props.config.events.eventBridge;
    if (eventBridge !== false)
      this.eventBus = new LifecycleEventBus(this, 'LifecycleEventBus', { deployment: d, mode: eventBridge });

    const environment = {
      ...orchestratorEnvironment({
        deployment: d,
        tableName: table.tableName,
        eventsTopicArn: this.eventsTopic.topicArn,
        runtimeConfig: runtimeConfigJson(props.config),
      }),
      ...this.eventBus?.environment(),
    };
    const logRemovalPolicy = statefulRemoval;

    // Start: a buffered queue (the CLI may also invoke the function directly for synchronous errors).
    this.startQueue = new DurableQueue(this, 'StartQueue', {
      queueName: startQueueName(d),
      visibilityTimeout: Duration.seconds(START_TIMEOUT.toSeconds() * 6),
    });
    this.startFunction = new OrchestratorFunction(this, 'StartFunction', {
      handler: 'start',
      description: `Plugboard ${prefix}: validates and starts workflow runs`,
      timeout: START_TIMEOUT,
      logRemovalPolicy,
      environment: { ...environment, [ENV.quarantineUrl]: this.startQueue.deadLetterQueue.queueUrl },
    });
    this.startFunction.consume(this.startQueue.queue);
    const activities = declaredActivities(props.config);
    grantTableAccess(table, this.startFunction, 'start');
    // It creates the first stage of a run and publishes its dispatch (inline hand-off).
    this.startFunction.allowPublishToStageTopics(d, activities, this.key);
    this.startFunction.allowPublish(this.eventsTopic, this.key);
    // Only the functions that announce lifecycle events (start here, the stage orchestrators in the
    // activity stacks) may put them on the bus.
    this.eventBus?.grantPutEvents(this.startFunction);
    this.startQueue.grantQuarantine(this.startFunction);

    // Sweeper: times out overdue plugins and fires due retries, every minute.
    this.sweeperFunction = new OrchestratorFunction(this, 'SweeperFunction', {
      handler: 'sweeper',
      description: `Plugboard ${prefix}: times out overdue plugins every minute`,
      timeout: Duration.seconds(55),
      logRemovalPolicy,
      environment,
      ...(props.sweeperReservedConcurrency === undefined
        ? {}
        : { reservedConcurrentExecutions: props.sweeperReservedConcurrency }),
    });
    grantTableAccess(table, this.sweeperFunction, 'sweeper');
    // It sends timeout commands and publishes nothing (no events topic, no key).
    this.sweeperFunction.allowSendToInboxes(d, activities);
    const schedule = new Rule(this, 'SweeperSchedule', {
      description: `Plugboard ${prefix}: runs the sweeper every minute`,
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [
        new LambdaFunction(this.sweeperFunction.function, {
          retryAttempts: 2,
          maxEventAge: Duration.minutes(1),
        }),
      ],
    });
    const missedTick =
      'A failed sweep is superseded by the next scheduled sweep a minute later (sweeps are idempotent); failures show in the function’s Errors metric.';
    Validations.of(schedule).acknowledge({ id: 'Serverless-EventBusDLQ', reason: missedTick });
    Validations.of(this.sweeperFunction.function).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason: missedTick,
    });

    // Registrar: provider of Custom::PlugboardPluginRegistration resources in plugin stacks.
    this.registrarFunction = new OrchestratorFunction(this, 'RegistrarFunction', {
      handler: 'registrar',
      description: `Plugboard ${prefix}: registers plugins (CloudFormation custom resource provider)`,
      timeout: Duration.seconds(60),
      logRemovalPolicy,
      environment,
    });
    // It writes and removes registrations only, and publishes nothing (no events topic, no key).
    grantTableAccess(table, this.registrarFunction, 'registrar');
    this.registrarFunction.function.addPermission('CloudFormationInvoke', {
      principal: new ServicePrincipal('cloudformation.amazonaws.com'),
      action: 'lambda:InvokeFunction',
      sourceAccount: this.account,
    });
    // It invokes no function on its own authority: a plugin registered by FunctionArn (the
    // `initialize` call) lets the registrar's role invoke that one function with a Lambda permission
    // in its own stack (ADR 0011), so no tag or name pattern reaches other functions of the account.
    Validations.of(this.registrarFunction.function).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        'Invoked by CloudFormation for custom resources; the handler always answers CloudFormation itself, and a dead-letter queue would not release a waiting stack.',
    });

    for (const fn of [this.startFunction, this.sweeperFunction, this.registrarFunction])
      tagEngineRole(fn.role, d);
    this.denyTableWrites(props.config.operatorPrincipals);

    this.addExport(
      'StatusTableName',
      EXPORTS.statusTableName(d),
      table.tableName,
      'Name of the status table',
    );
    this.addExport('StatusTableArn', EXPORTS.statusTableArn(d), table.tableArn, 'ARN of the status table');
    this.addExport(
      'EventsTopicArn',
      EXPORTS.eventsTopicArn(d),
      this.eventsTopic.topicArn,
      'ARN of the run lifecycle events topic',
    );
    this.addExport(
      'StartQueueUrl',
      EXPORTS.startQueueUrl(d),
      this.startQueue.queue.queueUrl,
      'URL of the start queue',
    );
    this.addExport(
      'StartQueueArn',
      EXPORTS.startQueueArn(d),
      this.startQueue.queue.queueArn,
      'ARN of the start queue',
    );
    this.addExport(
      'StartFunctionArn',
      EXPORTS.startFunctionArn(d),
      this.startFunction.function.functionArn,
      'ARN of the start function',
    );
    this.addExport(
      'StartFunctionName',
      EXPORTS.startFunctionName(d),
      this.startFunction.function.functionName,
      'Name of the start function',
    );
    this.addExport(
      'RegistrarServiceToken',
      EXPORTS.registrarServiceToken(d),
      this.registrarFunction.function.functionArn,
      'ServiceToken of Custom::PlugboardPluginRegistration resources',
    );
    this.addExport(
      'RegistrarRoleArn',
      EXPORTS.registrarRoleArn(d),
      this.registrarFunction.role.roleArn,
      'Role ARN of the registrar: a plugin registered by FunctionArn lets it invoke the function (ADR 0011)',
    );
    this.addExport(
      'SweeperRoleId',
      EXPORTS.sweeperRoleId(d),
      this.sweeperFunction.role.roleId,
      'Role id of the sweeper: stage orchestrators accept its timeout commands (ADR 0008)',
    );
    this.addExport(
      'KeyArn',
      EXPORTS.keyArn(d),
      this.key.keyArn,
      'ARN of the KMS key that encrypts the topics',
    );
    if (this.eventBus) {
      this.addExport(
        'EventBusName',
        EXPORTS.eventBusName(d),
        this.eventBus.eventBus.eventBusName,
        'Name of the EventBridge bus that carries the run lifecycle events',
      );
      this.addExport(
        'EventBusArn',
        EXPORTS.eventBusArn(d),
        this.eventBus.eventBus.eventBusArn,
        'ARN of the EventBridge bus that carries the run lifecycle events',
      );
    }
  }

  /**
   * The status table's resource policy: no principal whose role is tagged as a plugin's may write
   * (the kit tags every reporting role); with `operatorPrincipals` listed, no principal but the
   * engine's roles (tagged `plugboard:engine`) and those operators may write. Reads are left to
   * identity policies. `Resource: *` is the table itself and its indexes (a table's policy cannot
   * name its own generated ARN without a circular reference).
   */
  private denyTableWrites(operatorPrincipals: readonly string[]): void {
    const d = this.deployment;
    const table = this.statusTable.table;
    table.addToResourcePolicy(
      new PolicyStatement({
        sid: 'DenyWritesByPlugins',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: [...TABLE_WRITE_ACTIONS],
        resources: ['*'],
        conditions: { Null: { [`aws:PrincipalTag/${PLUGIN_TAG_KEY}`]: 'false' } },
      }),
    );
    if (operatorPrincipals.length === 0) return;
    table.addToResourcePolicy(
      new PolicyStatement({
        sid: 'DenyWritesButEngineAndOperators',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: [...TABLE_WRITE_ACTIONS],
        resources: ['*'],
        conditions: {
          StringNotEquals: { [`aws:PrincipalTag/${ENGINE_TAG_KEY}`]: engineTagValue(d) },
          StringNotLike: { 'aws:userid': operatorPrincipals.flatMap((id) => [id, `${id}:*`]) },
        },
      }),
    );
  }

  private addExport(id: string, exportName: string, value: string, description: string): void {
    new CfnOutput(this, id, { value, exportName, description });
  }
}

function validateProps(props: CoreStackProps): void {
  const reserved = props.sweeperReservedConcurrency;
  if (reserved !== undefined && !Token.isUnresolved(reserved) && reserved < 1) {
    throw new PlugboardCdkError(
      `Invalid CoreStack props: sweeperReservedConcurrency is ${reserved}; use 1 or more, or leave it out`,
    );
  }
}
