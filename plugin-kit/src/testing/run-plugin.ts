import { type PluginMessage, type Report, reportSchema } from '../contracts/index.js';
import type { LambdaContextLike, SqsEventLike } from '../runtime/events.js';
import type { AnyPluginInfoInput } from '../runtime/plugin-info.js';
import type { OutgoingMessage } from '../runtime/ports.js';
import type {
  PluginHandler,
  PluginRuntimeOptions,
  SqsPluginHandler,
  TaskOutcome,
  WrappedPluginHandler,
} from '../runtime/types.js';
import { orchestratorWrapperSns } from '../runtime/wrapper-sns.js';
import {
  InMemoryInbox,
  InMemoryStatusTable,
  type LogEntry,
  type PluginStatusFixture,
  recordingLogger,
} from './fakes.js';
import { createPluginMessage, type PluginMessageOverrides, snsEvent, sqsEvent } from './messages.js';

/** The status table name the harness passes to the wrappers. */
export const TEST_STATUS_TABLE = 'plugboard-test-status';
/** The plugin queue the harness gives a queue bridge that has no queue URL of its own. */
export const TEST_PLUGIN_QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/test-plugin-queue';

export interface RunPluginOptions {
  /** Required when `handler` is a plain function (it is then wrapped with `orchestratorWrapperSns`). */
  readonly info?: AnyPluginInfoInput;
  /** Changes to the default test message (see `createPluginMessage`). */
  readonly message?: PluginMessageOverrides;
  /**
   * The plugin's own status record before the run (its generation and attempt default to the message's).
   * @default - no record: the plugin has not run yet
   */
  readonly status?: PluginStatusFixture;
  /** A table to share between runs (reports are applied to it after each run). @default a new, empty table */
  readonly table?: InMemoryStatusTable;
  /** Where reports go. @default a new inbox that accepts everything */
  readonly inbox?: InMemoryInbox;
  /**
   * How the message arrives: an SNS event, an SQS event, or an SQS event whose body is an SNS
   * envelope. @default 'sqs' for `orchestratorWrapperSqs` handlers, otherwise 'sns'
   */
  readonly delivery?: 'sns' | 'sqs' | 'sqs-envelope';
  /**
   * String message attributes of the SQS record, for an `orchestratorWrapperSqs` handler fed directly
   * (to test a consumer on its own as the bridge feeds it: `{ plugboardInProgressReported: 'true' }`).
   * @default none
   */
  readonly attributes?: Readonly<Record<string, string>>;
  /**
   * The consumer behind a queue bridge (`orchestratorWrapperSqs` with the same `PluginInfo`). With a
   * bridge as `handler`, every message the bridge forwards to the plugin queue is then delivered to
   * this consumer as the queue would deliver it (body and message attributes), in the same run: the
   * run's `statuses` are the whole chain's, e.g. `['In Progress', 'Complete']`.
   * @default none: a bridge's forwards are only captured in `forwarded`
   */
  readonly consumer?: SqsPluginHandler;
  /** The plugin queue a queue bridge forwards to. @default TEST_PLUGIN_QUEUE_URL (if the bridge has none) */
  readonly pluginQueueUrl?: string;
  /** The clock. @default the system clock */
  readonly now?: () => Date;
  /** A Lambda context to pass. @default none */
  readonly lambdaContext?: LambdaContextLike;
  /** Apply the reports to the table afterwards, as the orchestrator would. @default true */
  readonly applyReports?: boolean;
}

/** What happened in one `runPlugin`. */
export interface PluginRun {
  /** The message that was delivered. */
  readonly message: PluginMessage;
  /** What the wrapper did with it (`undefined` only if the wrapper threw before processing it). */
  readonly outcome: TaskOutcome | undefined;
  /** Every outcome in order: the bridge's, then the consumer's when `options.consumer` is given. */
  readonly outcomes: readonly TaskOutcome[];
  /** The reports sent to the message's reply-to inbox, parsed. */
  readonly reports: readonly Report[];
  /** The statuses of `reports`, in order: e.g. `['In Progress', 'Complete']`. */
  readonly statuses: readonly Report['status'][];
  /** The last `Complete` or `Error` report. */
  readonly finalReport: Report | undefined;
  /** The result of a `Complete` report. */
  readonly result: unknown;
  /** Messages sent anywhere else (the queue bridge's forwards). */
  readonly forwarded: readonly OutgoingMessage[];
  /** Ids of SQS records the wrapper handed back for redelivery. */
  readonly batchItemFailures: readonly string[];
  /** What the wrapper threw, if it threw (SNS wrappers throw when a report cannot be sent). */
  readonly thrown: unknown;
  /** The wrapper's log lines. */
  readonly logs: readonly LogEntry[];
  /** The (shared) table after the run. */
  readonly table: InMemoryStatusTable;
}

/**
 * Runs a plugin against one realistic plugin message without AWS: SQS and DynamoDB are in-memory
 * fakes injected through the wrapper's options, and every report is captured and parsed.
 *
 * @param handler - the handler your module exports (from any wrapper), or a plain handler with `options.info`
 *
 * @example
 * ```ts
 * import { runPlugin } from '@plugboard/plugin-kit/testing';
 * import { handler } from '../src/check-credit.js';
 *
 * test('reports Complete with the score', async () => {
 *   const run = await runPlugin(handler, { message: { metadata: { customerId: 'c-1' } } });
 *   expect(run.statuses).toEqual(['In Progress', 'Complete']);
 *   expect(run.result).toEqual({ score: 720 });
 * });
 * ```
 */
export function runPlugin(handler: WrappedPluginHandler, options?: RunPluginOptions): Promise<PluginRun>;
export function runPlugin<R>(
  handler: PluginHandler<R>,
  options: RunPluginOptions & { readonly info: AnyPluginInfoInput },
): Promise<PluginRun>;
export async function runPlugin<R>(
  handler: WrappedPluginHandler | PluginHandler<R>,
  options: RunPluginOptions = {},
): Promise<PluginRun> {
  const wrapped = isWrappedHandler(handler) ? handler : wrapPlain(handler, options.info);
  const now = options.now ?? (() => new Date());
  const table = options.table ?? new InMemoryStatusTable();
  const inbox = options.inbox ?? new InMemoryInbox();
  const logger = recordingLogger();
  const outcomes: TaskOutcome[] = [];
  const message = createPluginMessage(wrapped.info.name, options.message, now());
  if (options.status) {
    table.putPluginStatus(
      { ...message, plugin: wrapped.info.name },
      { generation: message.generation, attempt: message.attempt, ...options.status },
    );
  }

  const runtimeOptions: PluginRuntimeOptions = {
    sender: inbox,
    statusStore: table,
    statusTableName: TEST_STATUS_TABLE,
    pluginQueueUrl: options.pluginQueueUrl ?? TEST_PLUGIN_QUEUE_URL,
    logger,
    now,
    onOutcome: (outcome: TaskOutcome) => outcomes.push(outcome),
  };
  const consumer = chainedConsumer(wrapped, options.consumer);
  const inboxUrl = message.replyTo.queueUrl;
  const applyReports = options.applyReports ?? true;
  const reports: Report[] = [];
  const forwarded: OutgoingMessage[] = [];
  let thrown: unknown;
  let batchItemFailures: string[] = [];
  /** Runs one step, then collects (and applies) what it sent, as the orchestrator would between steps. */
  const step = async (run: () => Promise<string[]>): Promise<readonly OutgoingMessage[]> => {
    const sentBefore = inbox.messages.length;
    try {
      batchItemFailures = await run();
    } catch (error) {
      thrown = error;
    }
    const sent = inbox.messages.slice(sentBefore);
    const stepReports = sent
      .filter((m) => m.queueUrl === inboxUrl)
      .map((m) => reportSchema.parse(JSON.parse(m.body)));
    if (applyReports) for (const report of stepReports) table.applyReport(report);
    reports.push(...stepReports);
    const stepForwards = sent.filter((m) => m.queueUrl !== inboxUrl);
    forwarded.push(...stepForwards);
    return stepForwards;
  };

  const forwards = await step(() => deliver(wrapped.withOptions(runtimeOptions), message, options));
  if (consumer !== undefined && thrown === undefined && forwards.length > 0) {
    const fed = consumer.withOptions(runtimeOptions);
    await step(async () => {
      const response = await fed(queueEvent(forwards), options.lambdaContext);
      return 'batchItemFailures' in response ? response.batchItemFailures.map((f) => f.itemIdentifier) : [];
    });
  }

  const finalReport = [...reports].reverse().find((report) => report.status !== 'In Progress');
  return {
    message,
    outcome: outcomes[0],
    outcomes,
    reports,
    statuses: reports.map((report) => report.status),
    finalReport,
    result: finalReport?.status === 'Complete' ? finalReport.result : undefined,
    forwarded,
    batchItemFailures,
    thrown,
    logs: logger.entries,
    table,
  };
}

/** The consumer to chain after a bridge, after checking that the pair belongs together. */
function chainedConsumer(
  handler: WrappedPluginHandler,
  consumer: SqsPluginHandler | undefined,
): SqsPluginHandler | undefined {
  if (consumer === undefined) return undefined;
  if (handler.kind !== 'bridge') {
    throw new TypeError(
      `runPlugin: options.consumer chains a consumer after a queue bridge, but the handler is a ${handler.kind} handler; pass the getOrchestratorSqsPassthrough handler as the first argument`,
    );
  }
  if (consumer.kind !== 'sqs') {
    throw new TypeError(
      `runPlugin: options.consumer must be an orchestratorWrapperSqs handler, got a ${String(consumer.kind)} handler`,
    );
  }
  if (consumer.info.name !== handler.info.name) {
    throw new TypeError(
      `runPlugin: the consumer's PluginInfo names "${consumer.info.name}" but the bridge's names "${handler.info.name}"; wrap both with the same PluginInfo`,
    );
  }
  return consumer;
}

/** The SQS event the plugin queue delivers for the bridge's forwards (bodies and attributes as sent). */
function queueEvent(forwards: readonly OutgoingMessage[]): SqsEventLike {
  return {
    Records: forwards.map((forward, index) => {
      const queueName = forward.queueUrl.slice(forward.queueUrl.lastIndexOf('/') + 1);
      return {
        messageId: `forwarded-${index + 1}`,
        body: forward.body,
        eventSourceARN: `arn:aws:sqs:us-east-1:123456789012:${queueName}`,
        messageAttributes: Object.fromEntries(
          Object.entries(forward.messageAttributes ?? {}).map(([name, value]) => [
            name,
            { stringValue: value, dataType: 'String' },
          ]),
        ),
      };
    }),
  };
}

function isWrappedHandler<R>(
  handler: WrappedPluginHandler | PluginHandler<R>,
): handler is WrappedPluginHandler {
  return 'withOptions' in handler && 'kind' in handler && 'info' in handler;
}

function wrapPlain<R>(handler: PluginHandler<R>, info: AnyPluginInfoInput | undefined): WrappedPluginHandler {
  if (info === undefined) {
    throw new TypeError(
      'runPlugin: pass options.info when the handler is a plain function (not a wrapped handler)',
    );
  }
  return orchestratorWrapperSns(info, handler);
}

/** Delivers the message in the event shape the handler's trigger produces; returns the batch failures. */
async function deliver(
  handler: WrappedPluginHandler,
  message: PluginMessage,
  options: RunPluginOptions,
): Promise<string[]> {
  if (handler.kind === 'sqs') {
    if (options.delivery === 'sns') {
      throw new TypeError(
        'runPlugin: an orchestratorWrapperSqs handler is fed by SQS; use delivery "sqs" or "sqs-envelope"',
      );
    }
    const response = await handler(
      sqsEvent([message], { envelope: options.delivery === 'sqs-envelope', attributes: options.attributes }),
      options.lambdaContext,
    );
    return 'batchItemFailures' in response ? response.batchItemFailures.map((f) => f.itemIdentifier) : [];
  }
  if (options.delivery !== undefined && options.delivery !== 'sns') {
    throw new TypeError(`runPlugin: a ${handler.kind} handler is subscribed to SNS; use delivery "sns"`);
  }
  await handler(snsEvent([message]), options.lambdaContext);
  return [];
}
