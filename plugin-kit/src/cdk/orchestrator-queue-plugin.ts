import { Annotations, Duration, Token } from 'aws-cdk-lib';
import { Grant } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { PLUGIN_ENV } from '../contracts/index.js';
import { InvalidPluginPropsError } from '../runtime/errors.js';
import type { QueueBridgeHandler, SqsPluginHandler } from '../runtime/types.js';
import {
  checkPlacement,
  OrchestratorPlugin,
  type PluginPlacementProps,
  withKnownActivities,
} from './orchestrator-plugin.js';
import { runtimeProblems } from './plugin-function.js';

export interface OrchestratorQueuePluginProps extends PluginPlacementProps {
  /** The bridge function: `getOrchestratorSqsPassthrough(info)`. It is the registered, subscribed function. */
  readonly bridge: LambdaFunction;
  /** The consumer function: `orchestratorWrapperSqs(info, handler)`, fed by the plugin's queue. */
  readonly consumer: LambdaFunction;
  /**
   * The bridge's wrapped handler (the bridge module's export). When given, synth fails if its
   * `PluginInfo` differs from `info`, and `info` may be left out.
   * @default - not checked
   */
  readonly bridgeHandler?: QueueBridgeHandler;
  /**
   * The consumer's wrapped handler (the consumer module's export). When given, synth fails if its
   * `PluginInfo` differs from `info` (or from the bridge's).
   * @default - not checked
   */
  readonly consumerHandler?: SqsPluginHandler;
  /**
   * A FIFO queue: one message at a time per group (`info.fifoKey`, or the run's uid). Content-based
   * deduplication stays off: the bridge sends a deduplication id per plugin attempt.
   * @default false
   */
  readonly fifo?: boolean;
  /**
   * How long a received message stays invisible to other consumers.
   * @default - six times the consumer's timeout, at least 30 seconds
   */
  readonly visibilityTimeout?: Duration;
  /**
   * Receives before a message moves to the dead-letter queue.
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * Messages per consumer invocation (1-10).
   * @default 1
   */
  readonly batchSize?: number;
  /**
   * Most concurrent consumer invocations (2-1000): how the plugin is throttled.
   * @default - no limit beyond the account's concurrency
   */
  readonly maxConcurrency?: number;
  /**
   * A KMS key for both queues.
   * @default - SQS-managed encryption (SSE-SQS)
   */
  readonly encryptionKey?: IKey;
  /**
   * How long an unprocessed message is kept.
   * @default Duration.days(4)
   */
  readonly retentionPeriod?: Duration;
}

/**
 * A plugin behind the queue bridge: the bridge function is subscribed and registered like an
 * `OrchestratorPlugin`, and forwards each message to the plugin's own queue (with a dead-letter queue,
 * encryption and SSL enforced), which feeds the consumer function with partial batch failures. Use it
 * when a plugin is slow, must be throttled or must process one message at a time.
 *
 * @example
 * ```ts
 * import { OrchestratorQueuePlugin, PluginFunction } from '@plugboard/plugin-kit/cdk';
 *
 * new OrchestratorQueuePlugin(this, 'RenderPdf', {
 *   stage: 'dev',
 *   activity: 'ship-order',
 *   activityStage: 'post',
 *   info: { name: 'render-pdf', default: { mandatory: false }, fifoKey: 'renderer' },
 *   bridge: new PluginFunction(this, 'Bridge', { entry: 'src/render-pdf-bridge.ts' }),
 *   consumer: new PluginFunction(this, 'Consumer', { entry: 'src/render-pdf.ts', timeout: Duration.minutes(5) }),
 *   fifo: true,
 *   maxConcurrency: 2,
 * });
 * ```
 */
export class OrchestratorQueuePlugin extends Construct {
  /** The bridge's registration, subscription and grants. */
  readonly plugin: OrchestratorPlugin;
  /** The plugin's own queue, fed by the bridge. */
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: OrchestratorQueuePluginProps) {
    super(scope, id);
    const checked = checkPlacement(withKnownActivities(this, props), [
      ['bridgeHandler', props.bridgeHandler, ['bridge']],
      ['consumerHandler', props.consumerHandler, ['sqs']],
    ]);
    const problems = [
      ...checked.problems,
      ...queueProblems(props),
      ...runtimeProblems('bridge.runtime', props.bridge.runtime),
      ...runtimeProblems('consumer.runtime', props.consumer.runtime),
    ];
    if (problems.length > 0 || checked.info === undefined) {
      throw new InvalidPluginPropsError(`OrchestratorQueuePlugin ${this.node.path}`, problems);
    }
    const fifo = props.fifo ?? false;
    const encryption = props.encryptionKey
      ? { encryption: QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }
      : { encryption: QueueEncryption.SQS_MANAGED };

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      fifo: fifo || undefined,
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
      ...encryption,
    });
    this.queue = new Queue(this, 'Queue', {
      fifo: fifo || undefined,
      contentBasedDeduplication: fifo ? false : undefined,
      visibilityTimeout: props.visibilityTimeout ?? defaultVisibilityTimeout(props.consumer),
      retentionPeriod: props.retentionPeriod ?? Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 5 },
      enforceSSL: true,
      ...encryption,
    });

    this.plugin = new OrchestratorPlugin(this, 'Plugin', {
      ...props,
      info: checked.info,
      function: props.bridge,
      handler: undefined,
    });
    for (const warning of checked.warnings) {
      Annotations.of(this).addWarningV2('@plugboard/plugin-kit:deprecatedPluginInfo', warning);
    }
    if (this.plugin.info.fifoKey !== undefined && !fifo) {
      Annotations.of(this).addWarningV2(
        '@plugboard/plugin-kit:fifoKeyWithoutFifo',
        `info.fifoKey ("${this.plugin.info.fifoKey}") has an effect only on a FIFO queue: set fifo: true or remove fifoKey`,
      );
    }
    props.bridge.addEnvironment(PLUGIN_ENV.pluginQueueUrl, this.queue.queueUrl);
    // Exactly SendMessage (grantSendMessages would add GetQueueAttributes and GetQueueUrl).
    Grant.addToPrincipal({
      grantee: props.bridge,
      actions: ['sqs:SendMessage'],
      resourceArns: [this.queue.queueArn],
    });
    props.encryptionKey?.grant(props.bridge, 'kms:GenerateDataKey', 'kms:Decrypt');

    const { consumer } = props;
    consumer.addEnvironment(PLUGIN_ENV.statusTable, this.plugin.statusTableName);
    this.plugin.grantReport(consumer);
    if (this.plugin.info.idempotent && !this.plugin.info.alwaysRun) this.plugin.grantStatusCheck(consumer);
    consumer.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: props.batchSize ?? 1,
        reportBatchItemFailures: true,
        ...(props.maxConcurrency !== undefined ? { maxConcurrency: props.maxConcurrency } : {}),
      }),
    );
  }
}

function defaultVisibilityTimeout(consumer: LambdaFunction): Duration {
  const timeout = consumer.timeout?.toSeconds() ?? 3;
  return Duration.seconds(Math.max(30, timeout * 6));
}

function queueProblems(props: OrchestratorQueuePluginProps): string[] {
  const problems: string[] = [];
  const range = (prop: string, value: number | undefined, min: number, max: number) => {
    if (
      value !== undefined &&
      !Token.isUnresolved(value) &&
      !(Number.isInteger(value) && value >= min && value <= max)
    ) {
      problems.push(`${prop} (${value}): must be an integer from ${min} to ${max}`);
    }
  };
  range('maxReceiveCount', props.maxReceiveCount, 1, 1000);
  range('batchSize', props.batchSize, 1, 10);
  range('maxConcurrency', props.maxConcurrency, 2, 1000);
  if (props.bridge === props.consumer) {
    problems.push(
      'consumer: must be another function than bridge (the bridge forwards to the queue that feeds the consumer)',
    );
  }
  const visibility = props.visibilityTimeout;
  const consumerTimeout = props.consumer.timeout;
  if (
    visibility !== undefined &&
    consumerTimeout !== undefined &&
    !visibility.isUnresolved() &&
    !consumerTimeout.isUnresolved() &&
    visibility.toSeconds() < consumerTimeout.toSeconds()
  ) {
    problems.push(
      `visibilityTimeout (${visibility.toSeconds()} s): must be at least the consumer's timeout (${consumerTimeout.toSeconds()} s), or a message is delivered again while it is still being processed`,
    );
  }
  return problems;
}
