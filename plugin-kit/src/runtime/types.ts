/**
 * The public types of the runtime API: what a plugin handler receives, what the wrappers return and
 * the options every wrapper takes.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { PluginInfo, PluginMessage } from '../contracts/index.js';
import type {
  InitializeEvent,
  LambdaContextLike,
  SnsEventLike,
  SqsBatchResponse,
  SqsEventLike,
} from './events.js';
import type { PluginLogger, PluginLogKeys } from './logger.js';
import type { MessageSender, StatusItemStore } from './ports.js';

/** What a handler gets besides the message. */
export interface PluginContext {
  /** The plugin's parsed `PluginInfo`. */
  readonly info: PluginInfo;
  /** This delivery's attempt (1 = first). */
  readonly attempt: number;
  /** The run generation (1, then +1 per rerun). */
  readonly generation: number;
  /** Whether this plugin gates the activity (`overrides[activity].mandatory`, else `default.mandatory`). */
  readonly mandatory: boolean;
  /** When the orchestrator times this attempt out, if the message says. */
  readonly deadline: Date | undefined;
  /** Keys that identify this execution in logs (workflow, uid, generation, activity, stage, plugin, attempt). */
  readonly logKeys: PluginLogKeys;
  /** The wrapper's logger with `logKeys` on every line. */
  readonly logger: PluginLogger;
  /** The Lambda context, when the wrapper was invoked by Lambda. */
  readonly lambdaContext: LambdaContextLike | undefined;
  /** Milliseconds until the earlier of the deadline and the Lambda timeout (`undefined` if neither is known). */
  remainingTimeMs(): number | undefined;
}

/**
 * A plugin's business logic. Return a result (JSON, at most LIMITS.resultBytes) or nothing to report
 * `Complete`; throw to report `Error` (`PluginError`/`OrchestratorError`: final; anything else: retryable).
 */
export type PluginHandler<R = unknown> = (message: PluginMessage, context: PluginContext) => Promise<R> | R;

/** What happened to one delivered message (for logs, tests and the testing harness). */
export type TaskOutcome =
  | { readonly type: 'completed'; readonly deliveryId: string; readonly result: unknown }
  | {
      readonly type: 'failed';
      readonly deliveryId: string;
      readonly retryable: boolean;
      readonly error: string;
      /** `PluginError.code`, when the plugin gave one. */
      readonly code?: string;
    }
  | { readonly type: 'forwarded'; readonly deliveryId: string; readonly queueUrl: string }
  | { readonly type: 'skipped'; readonly deliveryId: string; readonly reason: string }
  | { readonly type: 'ignored'; readonly deliveryId: string; readonly reason: string }
  | { readonly type: 'undelivered'; readonly deliveryId: string; readonly error: string };

/** Options of every wrapper. All optional: the defaults are what a deployed plugin needs. */
export interface PluginRuntimeOptions {
  /** Sends reports (and the bridge's forwards). @default SQS `SendMessage` through `sqsClient` */
  readonly sender?: MessageSender;
  /** Used by the default sender. @default a client created on first send, once per wrapper */
  readonly sqsClient?: SQSClient;
  /** Reads the plugin's status for the skip rules. @default DynamoDB `GetItem` through `dynamoDbClient` */
  readonly statusStore?: StatusItemStore;
  /** Used by the default status store. @default a client created on first read, once per wrapper */
  readonly dynamoDbClient?: DynamoDBClient;
  /** @default the `PLUGBOARD_STATUS_TABLE` environment variable (set by the CDK construct) */
  readonly statusTableName?: string;
  /** @default a JSON-lines logger on standard output */
  readonly logger?: PluginLogger;
  /** The clock used for `reportedAt` and deadlines. @default the system clock */
  readonly now?: () => Date;
  /**
   * Queue bridge only: the plugin queue to forward to when `getOrchestratorSqsPassthrough` got no URL.
   * @default the `PLUGBOARD_PLUGIN_QUEUE_URL` environment variable
   */
  readonly pluginQueueUrl?: string;
  /** Called once per delivered message with what happened to it. */
  readonly onOutcome?: (outcome: TaskOutcome) => void;
  /**
   * SNS wrappers: the only topic whose records are processed; a record from any other topic (or none,
   * e.g. a direct invoke faking a dispatch) is refused with a warning and never reported.
   * @default the `PLUGBOARD_STAGE_TOPIC_ARN` environment variable (set by the CDK construct); unset: not checked
   */
  readonly stageTopicArn?: string;
}

interface WrappedHandler<K extends string, Self> {
  /** Which wrapper made this handler. */
  readonly kind: K;
  /** The parsed `PluginInfo` the handler answers the initialize call with. */
  readonly info: PluginInfo;
  /** The same handler with other options (e.g. in-memory fakes in tests). Options are merged. */
  withOptions(options: PluginRuntimeOptions): Self;
}

/** A Lambda handler for an SNS subscription (from `orchestratorWrapperSns`). */
export interface SnsPluginHandler extends WrappedHandler<'sns', SnsPluginHandler> {
  (event: SnsEventLike | InitializeEvent, context?: LambdaContextLike): Promise<PluginInfo | undefined>;
}

/** A Lambda handler for an SQS event source (from `orchestratorWrapperSqs`). */
export interface SqsPluginHandler extends WrappedHandler<'sqs', SqsPluginHandler> {
  (
    event: SqsEventLike | SnsEventLike | InitializeEvent,
    context?: LambdaContextLike,
  ): Promise<SqsBatchResponse | PluginInfo>;
}

/** The queue bridge's SNS handler (from `getOrchestratorSqsPassthrough`). */
export interface QueueBridgeHandler extends WrappedHandler<'bridge', QueueBridgeHandler> {
  (event: SnsEventLike | InitializeEvent, context?: LambdaContextLike): Promise<PluginInfo | undefined>;
}

/** Any handler made by the kit's wrappers. */
export type WrappedPluginHandler = SnsPluginHandler | SqsPluginHandler | QueueBridgeHandler;
