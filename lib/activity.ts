import { type Duration, type RemovalPolicy, Token } from 'aws-cdk-lib';
import type { Metric, MetricOptions } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  type DeploymentRef,
  inboxQueueName,
  RESOURCE_NAME,
  STAGE_NAMES,
  type StageName,
} from '../plugin-kit/src/contracts/index.js';
import { ActivityStage, NO_BATCHING, type StageBatching, type StageSenders } from './activity-stage.js';
import { MAX_QUEUE_NAME_LENGTH } from './config/workflow-config.js';
import { PlugboardCdkError } from './errors.js';

export interface ActivityProps {
  /** Which Plugboard deployment the activity belongs to (prefixes its queue names). */
  readonly deployment: DeploymentRef;
  /** The activity's name, as in the workflow config (`RESOURCE_NAME`). */
  readonly activityName: string;
  /**
   * Every activity of the deployment, in declaration order: the stage orchestrators may publish to
   * and send to their stages (by exact name, no pattern).
   * @default - this activity only
   */
  readonly declaredActivities?: readonly string[];
  /** The status table; the stage orchestrators read and write it. */
  readonly table: ITable;
  /** The lifecycle events topic; the stage orchestrators publish to it. */
  readonly eventsTopic: ITopic;
  /** The deployment's KMS key: encrypts the stage topics (and the events topic). */
  readonly key: IKey;
  /** Variables shared by every orchestrator function (`orchestratorEnvironment`). */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * How the parallel stage's inbox batches reports (sequential stages never batch).
   * @default NO_BATCHING - no window
   */
  readonly parallelBatching?: StageBatching;
  /**
   * Timeout of each stage orchestrator; each inbox's visibility timeout follows from it.
   * @default Duration.seconds(30)
   */
  readonly functionTimeout?: Duration;
  /**
   * Memory of each stage orchestrator, in MB.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * What happens to the orchestrators' log groups when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Most concurrent invocations of each stage orchestrator.
   * @default DEFAULT_MAXIMUM_CONCURRENCY
   */
  readonly inboxMaximumConcurrency?: number;
  /** Who besides each stage's own orchestrator may send to the inboxes (ActivityStageProps). */
  readonly senders?: StageSenders;
}

/**
 * An activity: three stages (`pre`, `parallel`, `post`), each with its SNS topic, its inbox queue and
 * dead-letter queue, and its stage orchestrator. Plugins subscribe to the topics and report to the
 * inboxes; they are granted nothing else ({@link Activity.grantReport}).
 */
export class Activity extends Construct {
  readonly activityName: string;
  readonly stages: Readonly<Record<StageName, ActivityStage>>;

  constructor(scope: Construct, id: string, props: ActivityProps) {
    super(scope, id);
    validateProps(props);
    this.activityName = props.activityName;
    const stage = (name: StageName, constructId: string) =>
      new ActivityStage(this, constructId, {
        deployment: props.deployment,
        activityName: props.activityName,
        declaredActivities: props.declaredActivities ?? [props.activityName],
        stage: name,
        table: props.table,
        eventsTopic: props.eventsTopic,
        key: props.key,
        environment: props.environment,
        batching: name === 'parallel' ? (props.parallelBatching ?? NO_BATCHING) : NO_BATCHING,
        ...(props.functionTimeout ? { functionTimeout: props.functionTimeout } : {}),
        ...(props.memorySize === undefined ? {} : { memorySize: props.memorySize }),
        ...(props.logRemovalPolicy ? { logRemovalPolicy: props.logRemovalPolicy } : {}),
        ...(props.inboxMaximumConcurrency === undefined
          ? {}
          : { maximumConcurrency: props.inboxMaximumConcurrency }),
        ...(props.senders ? { senders: props.senders } : {}),
      });
    this.stages = {
      pre: stage('pre', 'Pre'),
      parallel: stage('parallel', 'Parallel'),
      post: stage('post', 'Post'),
    };
  }

  /**
   * Lets a plugin report: `sqs:SendMessage` on the three stage inboxes and nothing else. The inboxes use
   * SQS-managed encryption, so no KMS permission is needed, and nothing here touches the status table.
   */
  grantReport(grantee: IGrantable): void {
    for (const name of STAGE_NAMES) this.stages[name].grantReport(grantee);
  }

  /** Age of the oldest message waiting in a stage's inbox. */
  metricInboxOldestMessageAge(stage: StageName, options?: MetricOptions): Metric {
    return this.stages[stage].metricInboxOldestMessageAge(options);
  }

  /** Messages in a stage's inbox dead-letter queue. */
  metricDeadLetters(stage: StageName, options?: MetricOptions): Metric {
    return this.stages[stage].metricDeadLetters(options);
  }
}

function validateProps(props: ActivityProps): void {
  const problems: string[] = [];
  const name = props.activityName;
  if (!Token.isUnresolved(name)) {
    if (!RESOURCE_NAME.test(name)) {
      problems.push(
        `activityName "${name}" is not a valid name; use 1-40 characters: a lower-case letter first, then lower-case letters, digits or hyphens`,
      );
    } else {
      const longest = `${inboxQueueName(props.deployment, name, 'parallel')}-dlq`;
      if (longest.length > MAX_QUEUE_NAME_LENGTH) {
        problems.push(
          `activityName "${name}" makes the queue name "${longest}" ${longest.length} characters long (SQS allows ${MAX_QUEUE_NAME_LENGTH}); use a shorter activity, system or stage name`,
        );
      }
    }
  }
  const memory = props.memorySize;
  if (memory !== undefined && !Token.isUnresolved(memory) && (memory < 128 || memory > 10_240)) {
    problems.push(`memorySize is ${memory}; use 128 to 10240 MB`);
  }
  const timeout = props.functionTimeout;
  if (timeout !== undefined && !timeout.isUnresolved() && timeout.toSeconds() * 6 + 1 > 43_200) {
    problems.push(
      `functionTimeout is ${timeout.toSeconds()} s; the inbox visibility timeout (6 × it + 1 s) must stay within SQS's 12 hours`,
    );
  }
  if (problems.length > 0) throw new PlugboardCdkError(`Invalid Activity props: ${problems.join('; ')}`);
}
