import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type { Metric, MetricOptions } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { type DeploymentRef, inboxQueueName, type StageName } from '../plugin-kit/src/contracts/index.js';
import { DurableQueue } from './durable-queue.js';
import { ENV } from './orchestrator-environment.js';
import { OrchestratorFunction } from './orchestrator-function.js';
import { StatusTable } from './status-table.js';

/** Longest wait of the inbox event source for a fuller batch. */
export const STAGE_BATCHING_WINDOW = Duration.seconds(1);

export interface ActivityStageProps {
  readonly deployment: DeploymentRef;
  readonly activityName: string;
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
}

/**
 * One stage (`pre`, `parallel` or `post`) of one activity: the SNS topic plugins subscribe to, the
 * inbox queue (with its dead-letter queue) plugins report to, and the stage orchestrator that consumes
 * the inbox. The inbox has a deterministic name (`<system>-<stage>-<activity>-<stage>-inbox`) because
 * other stacks' orchestrators route commands to it by name.
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

    this.topic = new Topic(this, 'Topic', {
      displayName: `Plugboard ${label}-processing`,
      masterKey: props.key,
      enforceSSL: true,
    });

    this.inbox = new DurableQueue(this, 'Inbox', {
      queueName: inboxQueueName(props.deployment, props.activityName, props.stage),
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6 + STAGE_BATCHING_WINDOW.toSeconds()),
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
    this.orchestrator.consume(this.inbox.queue, { maxBatchingWindow: STAGE_BATCHING_WINDOW });

    StatusTable.grantEngineAccess(props.table, this.orchestrator);
    this.orchestrator.allowPublish(this.topic, props.key);
    this.orchestrator.allowPublish(props.eventsTopic, props.key);
    this.orchestrator.allowSendToEveryInbox(props.deployment);
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
