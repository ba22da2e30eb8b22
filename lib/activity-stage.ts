import { Duration, Fn, type RemovalPolicy } from 'aws-cdk-lib';
import type { Metric, MetricOptions } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { AnyPrincipal, Effect, type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  type DeploymentRef,
  inboxQueueName,
  type StageName,
  stageTopicName,
} from '../plugin-kit/src/contracts/index.js';
import { DurableQueue } from './durable-queue.js';
import { ENGINE_TAG_KEY, engineTagValue, tagEngineRole } from './engine-identity.js';
import { ENV } from './orchestrator-environment.js';
import { OrchestratorFunction } from './orchestrator-function.js';
import { grantTableAccess } from './table-grants.js';

/** How a stage inbox's event source batches reports (see `parallelBatching` in the workflow config). */
export interface StageBatching {
  /** Longest wait for a fuller batch; zero hands every report on at once. */
  readonly window: Duration;
  /** Most reports per invocation. */
  readonly batchSize: number;
}

/** Who besides the stage's own orchestrator may send to its inbox (ADR 0008). */
export interface StageSenders {
  /** Role ids of other engine functions that send commands (the sweeper's timeouts). */
  readonly engineRoleIds: readonly string[];
  /**
   * Operator role or user ids that may send `start-stage` nudges.
   * @default - none listed: any principal that is not a plugin of the stage may (docs/security.md)
   */
  readonly operatorPrincipals?: readonly string[];
}

/** Sequential stages, and parallel ones unless configured: no window, so a lone report waits for nothing. */
export const NO_BATCHING: StageBatching = { window: Duration.seconds(0), batchSize: 10 };

export interface ActivityStageProps {
  readonly deployment: DeploymentRef;
  readonly activityName: string;
  /** Every activity of the deployment (the orchestrator may hand a run to any of their stages). */
  readonly declaredActivities: readonly string[];
  readonly stage: StageName;
  /** The status table (read/write for the orchestrator). */
  readonly table: ITable;
  /** The deployment's lifecycle events topic (the orchestrator publishes to it). */
  readonly eventsTopic: ITopic;
  /** The key that encrypts the stage topic and the events topic. */
  readonly key: IKey;
  /** Variables shared by every orchestrator function. */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * How the inbox's event source batches reports.
   * @default NO_BATCHING - no window, batches of up to 10
   */
  readonly batching?: StageBatching;
  /**
   * Timeout of the stage orchestrator; the inbox's visibility timeout is 6 × this + the batching window.
   * @default Duration.seconds(30)
   */
  readonly functionTimeout?: Duration;
  /**
   * Memory of the stage orchestrator, in MB.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * What happens to the orchestrator's log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Most concurrent invocations of the stage orchestrator (its event source's `maximumConcurrency`).
   * @default DEFAULT_MAXIMUM_CONCURRENCY
   */
  readonly maximumConcurrency?: number;
  /**
   * Who besides the stage's own orchestrator may send commands to the inbox. Plugins' reports are
   * checked against their registrations, not here.
   * @default - only the stage's own orchestrator sends commands (no sweeper timeouts are accepted)
   */
  readonly senders?: StageSenders;
}

/**
 * One stage (`pre`, `parallel` or `post`) of one activity: the SNS topic plugins subscribe to, the
 * inbox queue (with its dead-letter queue) plugins report to, and the stage orchestrator that consumes
 * the inbox. The inbox and the topic have deterministic names (`<system>-<stage>-<activity>-<stage>-inbox`,
 * `…-topic`): the orchestrator that completes a stage publishes the next stage's dispatch itself, and
 * the next stage may live in another activity stack, so it is reached by name, not by reference.
 */
export class ActivityStage extends Construct {
  readonly stage: StageName;
  readonly topic: Topic;
  readonly inbox: DurableQueue;
  readonly orchestrator: OrchestratorFunction;

  constructor(scope: Construct, id: string, props: ActivityStageProps) {
    super(scope, id);
    this.stage = props.stage;
    const timeout = props.functionTimeout ?? Duration.seconds(30);
    const label = `${props.deployment.systemName}-${props.deployment.stage} ${props.activityName} ${props.stage}`;

    const batching = props.batching ?? NO_BATCHING;
    this.topic = new Topic(this, 'Topic', {
      topicName: stageTopicName(props.deployment, props.activityName, props.stage),
      displayName: `Plugboard ${label}-processing`,
      masterKey: props.key,
      enforceSSL: true,
    });

    // Only the engine's roles publish dispatches (start, the stage orchestrators); subscriptions only
    // with the protocols plugins use (a function, or the kit's queue bridge).
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'OnlyTheEnginePublishes',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringNotEquals: { [`aws:PrincipalTag/${ENGINE_TAG_KEY}`]: engineTagValue(props.deployment) },
        },
      }),
    );
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'SubscribeWithLambdaOrSqsOnly',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['sns:Subscribe'],
        resources: [this.topic.topicArn],
        conditions: { StringNotEquals: { 'sns:Protocol': ['lambda', 'sqs'] } },
      }),
    );

    this.inbox = new DurableQueue(this, 'Inbox', {
      queueName: inboxQueueName(props.deployment, props.activityName, props.stage),
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6 + batching.window.toSeconds()),
    });

    this.orchestrator = new OrchestratorFunction(this, 'Orchestrator', {
      handler: 'stage',
      description: `Plugboard ${label} stage orchestrator`,
      timeout,
      memorySize: props.memorySize ?? 512,
      ...(props.logRemovalPolicy ? { logRemovalPolicy: props.logRemovalPolicy } : {}),
      environment: {
        ...props.environment,
        [ENV.activity]: props.activityName,
        [ENV.stage]: props.stage,
        [ENV.topicArn]: this.topic.topicArn,
        [ENV.quarantineUrl]: this.inbox.deadLetterQueue.queueUrl,
      },
    });
    // The engine accepts commands only from these senders (its SQS SenderId), reports only from the
    // plugin's registered principals (engine/sender.ts).
    this.orchestrator.function.addEnvironment(
      ENV.commandSenders,
      Fn.join(',', [this.orchestrator.role.roleId, ...(props.senders?.engineRoleIds ?? [])]),
    );
    this.orchestrator.function.addEnvironment(
      ENV.operatorPrincipals,
      (props.senders?.operatorPrincipals ?? []).join(','),
    );
    this.orchestrator.consume(this.inbox.queue, {
      batchSize: batching.batchSize,
      ...(props.maximumConcurrency === undefined ? {} : { maximumConcurrency: props.maximumConcurrency }),
      ...(batching.window.toSeconds() > 0 ? { maxBatchingWindow: batching.window } : {}),
    });

    tagEngineRole(this.orchestrator.role, props.deployment);
    grantTableAccess(props.table, this.orchestrator, 'stage');
    // Its own topic (retries) and, when it completes its stage, the next stage's (inline hand-off).
    this.orchestrator.allowPublishToStageTopics(props.deployment, props.declaredActivities, props.key);
    this.orchestrator.allowPublish(props.eventsTopic, props.key);
    // Retry commands go to its own inbox, delayed by the back-off.
    this.orchestrator.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.inbox.queue.queueArn] }),
    );
    this.inbox.grantQuarantine(this.orchestrator);
  }

  /** Lets `grantee` send reports to this stage's inbox (`sqs:SendMessage` only; SSE-SQS needs no key). */
  grantReport(grantee: IGrantable): void {
    this.inbox.grantSend(grantee);
  }

  /** Age of the oldest message waiting in the inbox: the stage orchestrator's backlog. */
  metricInboxOldestMessageAge(options?: MetricOptions): Metric {
    return this.inbox.queue.metricApproximateAgeOfOldestMessage(options);
  }

  /** Messages waiting in the inbox's dead-letter queue: reports or commands that could not be processed. */
  metricDeadLetters(options?: MetricOptions): Metric {
    return this.inbox.deadLetterQueue.metricApproximateNumberOfMessagesVisible(options);
  }
}
