import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import {
  Effect,
  type IGrantable,
  type IPrincipal,
  Policy,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, type CfnFunction, LoggingFormat, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { type BundlingOptions, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  type DeploymentRef,
  inboxQueueName,
  STAGE_NAMES,
  type StageName,
  stageTopicName,
} from '../plugin-kit/src/contracts/index.js';
import { PlugboardCdkError } from './errors.js';

/** The handler entry points under `lambdas/handlers/` (and the HTTP API's, `lambdas/api/handler.ts`). */
export type OrchestratorHandler = 'start' | 'stage' | 'sweeper' | 'registrar' | 'api';

/** Lambda runtime of every orchestrator function (the latest Node.js runtime; cdk-nag L1). */
export const ORCHESTRATOR_RUNTIME = Runtime.NODEJS_24_X;

/**
 * esbuild settings shared by every orchestrator bundle (ADR 0002): ESM, minified, with source maps,
 * the AWS SDK v3 bundled at the versions pinned by the lockfile, and `node20` as the syntax target so
 * the same bundles run in Lambda and in the local cloud on Node 20.
 */
export const ORCHESTRATOR_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: 'node20',
  minify: true,
  // Error classes name themselves from `new.target.name`: keep names readable in logs and responses.
  keepNames: true,
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  externalModules: [],
  banner:
    "import { createRequire as __plugboardCreateRequire } from 'node:module'; const require = __plugboardCreateRequire(import.meta.url);",
};

/**
 * Concurrent invocations an SQS event source may start at most, unless configured (the workflow
 * config's `inboxMaximumConcurrency`): one stage's flood then takes at most this share of the
 * account's Lambda concurrency (1,000 by default).
 */
export const DEFAULT_MAXIMUM_CONCURRENCY = 20;

/** Where a handler's entry file lives. */
export function handlerEntry(handler: OrchestratorHandler): string {
  if (handler === 'api') return fileURLToPath(new URL('../lambdas/api/handler.ts', import.meta.url));
  return fileURLToPath(new URL(`../lambdas/handlers/${handler}.ts`, import.meta.url));
}

export interface OrchestratorFunctionProps {
  /** Which handler under `lambdas/handlers/` the function runs. */
  readonly handler: OrchestratorHandler;
  /** What the function does (shown in the Lambda console). */
  readonly description: string;
  /** Variables the handler reads (see `ENV`). */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * Longest run of one invocation.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Memory (and, in proportion, CPU) of the function, in MB.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * How long the function's logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Concurrent executions reserved for (and capping) this function.
   * @default - none: the function uses the account's unreserved concurrency
   */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * One orchestrator Lambda function with Plugboard's defaults: bundled from `lambdas/handlers/` with the
 * local esbuild, Node.js 24 on arm64, an explicit log group with retention, JSON logs, active X-Ray
 * tracing and its own role that starts with nothing but write access to its log group.
 */
export class OrchestratorFunction extends Construct implements IGrantable {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  readonly grantPrincipal: IPrincipal;
  private readonly keysGranted = new Set<string>();

  constructor(scope: Construct, id: string, props: OrchestratorFunctionProps) {
    super(scope, id);
    validateProps(props);

    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the Plugboard ${props.handler} function`,
    });
    this.grantPrincipal = this.role;
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: handlerEntry(props.handler),
      handler: 'handler',
      description: props.description,
      runtime: ORCHESTRATOR_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(30),
      environment: { ...props.environment },
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      bundling: ORCHESTRATOR_BUNDLING,
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
    });

    if (tracingMode(this) === 'active') {
      this.enableActiveTracing();
    } else {
      Validations.of(this.function).acknowledge({
        id: 'Serverless-LambdaTracing',
        reason:
          'Tracing is an opt-in (--context tracing=active): a trace per run costs more than the orchestration at low volume (docs/benchmarks.md); runs are followed through the status table, logs and metrics.',
      });
    }
  }

  /**
   * Active X-Ray tracing (context `tracing=active`), with the X-Ray permissions in a policy of their
   * own: X-Ray has no resource-level permissions, and keeping its `*` apart means the acknowledgement
   * covers X-Ray only. Off by default: at low volume a trace per run costs more than half of the
   * orchestration itself (docs/benchmarks.md), and Lambda then passes an upstream trace header through.
   */
  private enableActiveTracing(): void {
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
  }

  /**
   * Consumes `queue` through an SQS event source mapping: batches of 10, partial batch failures
   * reported (`batchItemFailures`), at most `maximumConcurrency` invocations at once (so one flood of
   * messages cannot take the account's Lambda concurrency). Failed messages are retried by the queue
   * and end in its dead-letter queue, so the function needs no dead-letter queue or failure
   * destination of its own.
   */
  consume(
    queue: IQueue,
    options: {
      readonly maxBatchingWindow?: Duration;
      readonly batchSize?: number;
      /** @default DEFAULT_MAXIMUM_CONCURRENCY */
      readonly maximumConcurrency?: number;
    } = {},
  ): void {
    const maximumConcurrency = options.maximumConcurrency ?? DEFAULT_MAXIMUM_CONCURRENCY;
    if (!Token.isUnresolved(maximumConcurrency) && (maximumConcurrency < 2 || maximumConcurrency > 1000)) {
      throw new PlugboardCdkError(
        `maximumConcurrency is ${maximumConcurrency}; an SQS event source allows 2 to 1000 concurrent invocations`,
      );
    }
    this.function.addEventSource(
      new SqsEventSource(queue, {
        batchSize: options.batchSize ?? 10,
        reportBatchItemFailures: true,
        maxConcurrency: maximumConcurrency,
        ...(options.maxBatchingWindow ? { maxBatchingWindow: options.maxBatchingWindow } : {}),
      }),
    );
    Validations.of(this.function).acknowledge(
      {
        id: 'Serverless-LambdaDLQ',
        reason:
          'Invoked synchronously by its SQS event source; failed messages are retried by the queue and end in its dead-letter queue after 5 receives.',
      },
      {
        id: 'Serverless-LambdaEventSourceMappingDestination',
        reason:
          'SQS event source mappings support no on-failure destination; the source queue’s redrive policy (maxReceiveCount 5) moves failures to its dead-letter queue.',
      },
    );
  }

  /**
   * Lets the function send commands to the stage inboxes of the declared `activities` of this
   * deployment: one ARN per inbox (`<system>-<stage>-<activity>-<stage>-inbox`), no name pattern, so no
   * queue of another deployment whose name shares the prefix (system `shop` and `shop-eu`) matches.
   * The next activity's inbox lives in another stack, so it is named, not referenced.
   */
  allowSendToInboxes(deployment: DeploymentRef, activities: readonly string[]): void {
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'SendToTheInboxesOfThisDeployment',
        effect: Effect.ALLOW,
        actions: ['sqs:SendMessage'],
        resources: stageResourceArns(this, deployment, activities, 'sqs', inboxQueueName),
      }),
    );
  }

  /**
   * Lets the function publish plugin dispatches to the stage topics of the declared `activities` of
   * this deployment (one ARN per topic, no name pattern): the orchestrator that completes a stage
   * starts the next one, whose topic lives in another activity stack. Stage topics are encrypted with
   * the deployment key.
   */
  allowPublishToStageTopics(deployment: DeploymentRef, activities: readonly string[], key: IKey): void {
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'PublishToTheStageTopicsOfThisDeployment',
        effect: Effect.ALLOW,
        actions: ['sns:Publish'],
        resources: stageResourceArns(this, deployment, activities, 'sns', stageTopicName),
      }),
    );
    this.allowKeyForPublishing(key);
  }

  /**
   * Lets the function publish to an SNS topic encrypted with `key`: `sns:Publish` on the topic plus the
   * two KMS actions SNS performs with the publisher's credentials (no `GenerateDataKey*` wildcard).
   */
  allowPublish(topic: ITopic, key: IKey): void {
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['sns:Publish'], resources: [topic.topicArn] }),
    );
    this.allowKeyForPublishing(key);
  }

  private allowKeyForPublishing(key: IKey): void {
    const id = Stack.of(this).resolve(key.keyArn);
    const marker = JSON.stringify(id);
    if (this.keysGranted.has(marker)) return;
    this.keysGranted.add(marker);
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [key.keyArn] }),
    );
  }
}

/** The ARN of every stage's queue or topic (`name`) of the declared activities, in declaration order. */
function stageResourceArns(
  scope: Construct,
  deployment: DeploymentRef,
  activities: readonly string[],
  service: 'sqs' | 'sns',
  name: (d: DeploymentRef, activity: string, stage: StageName) => string,
): string[] {
  if (activities.length === 0) {
    throw new PlugboardCdkError('An orchestrator grant needs the declared activities; none were given.');
  }
  return activities.flatMap((activity) =>
    STAGE_NAMES.map((stage) =>
      Stack.of(scope).formatArn({ service, resource: name(deployment, activity, stage) }),
    ),
  );
}

/** Context key that turns on active X-Ray tracing for every orchestrator: `--context tracing=active`. */
export const TRACING_CONTEXT_KEY = 'tracing';
const TRACING_MODES = ['active', 'passthrough'] as const;

/** The tracing mode from the `tracing` context (`active` or `passthrough`, the default). */
export function tracingMode(scope: Construct): (typeof TRACING_MODES)[number] {
  const value = scope.node.tryGetContext(TRACING_CONTEXT_KEY) as unknown;
  if (value === undefined || value === null || value === '') return 'passthrough';
  const text = String(value).toLowerCase();
  if ((TRACING_MODES as readonly string[]).includes(text)) return text as (typeof TRACING_MODES)[number];
  throw new PlugboardCdkError(
    `--context ${TRACING_CONTEXT_KEY}=${String(value)} is not a tracing mode; use ${TRACING_CONTEXT_KEY}=active (X-Ray traces every run) or ${TRACING_CONTEXT_KEY}=passthrough (the default).`,
  );
}

function validateProps(props: OrchestratorFunctionProps): void {
  const problems: string[] = [];
  const memory = props.memorySize;
  if (memory !== undefined && !Token.isUnresolved(memory) && (memory < 128 || memory > 10_240)) {
    problems.push(`memorySize is ${memory}; use 128 to 10240 MB`);
  }
  const timeout = props.timeout;
  if (timeout !== undefined && !timeout.isUnresolved() && timeout.toSeconds() > 900) {
    problems.push(`timeout is ${timeout.toSeconds()} s; Lambda allows at most 900 s`);
  }
  const reserved = props.reservedConcurrentExecutions;
  if (reserved !== undefined && !Token.isUnresolved(reserved) && reserved < 1) {
    problems.push(`reservedConcurrentExecutions is ${reserved}; use 1 or more, or leave it out`);
  }
  if (problems.length > 0) {
    throw new PlugboardCdkError(`Invalid OrchestratorFunction props: ${problems.join('; ')}`);
  }
}
