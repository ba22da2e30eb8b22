/**
 * What every wrapper does with one delivered message: parse it, check it targets this plugin, apply
 * the skip rules, report `In Progress`, hand it to the wrapper's action (run the handler, or forward
 * it) and report the outcome. The wrappers only adapt events to deliveries and outcomes to responses.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import {
  describeIssues,
  errorCode,
  isMandatoryFor,
  LIMITS,
  type PluginInfo,
  type PluginMessage,
  pluginMessageSchema,
  type Report,
  SCHEMA_VERSION,
  STATES,
  truncateMessage,
} from '../contracts/index.js';
import { dynamoDbStatusStore } from './dynamodb-status-store.js';
import {
  errorMessage,
  InvalidResultError,
  isPluginError,
  isRetryable,
  ReportDeliveryError,
  ResultTooLargeError,
} from './errors.js';
import {
  type Delivery,
  IN_PROGRESS_REPORTED_ATTRIBUTE,
  type LambdaContextLike,
  parseJson,
} from './events.js';
import { jsonLogger, type PluginLogger, type PluginLogKeys, withLogKeys } from './logger.js';
import { type AnyPluginInfoInput, parsePluginInfo } from './plugin-info.js';
import type { MessageSender, OutgoingMessage, StatusItemStore } from './ports.js';
import { sqsMessageSender } from './sqs-message-sender.js';
import { createStatusReader, type PluginStatus, type StatusReader } from './status-reader.js';
import type { PluginContext, PluginRuntimeOptions, TaskOutcome } from './types.js';

/** Everything one wrapper needs at run time; created once per wrapper, SDK clients on first use. */
export interface Runtime {
  readonly info: PluginInfo;
  readonly options: PluginRuntimeOptions;
  readonly logger: PluginLogger;
  now(): Date;
  sender(): MessageSender;
  status(): StatusReader;
  observe(outcome: TaskOutcome): void;
}

/**
 * Parses the wrapper's `PluginInfo` (throwing `InvalidPluginInfoError` with every problem) and creates
 * its runtime; deprecation warnings (e.g. `pluginName`) are logged once, as one line each.
 */
export function runtimeFor(input: AnyPluginInfoInput, options: PluginRuntimeOptions): Runtime {
  const warnings: string[] = [];
  const info = parsePluginInfo(input, (warning) => warnings.push(warning));
  const runtime = createRuntime(info, options);
  for (const warning of warnings) runtime.logger.warn(warning, { plugin: info.name });
  return runtime;
}

export function createRuntime(info: PluginInfo, options: PluginRuntimeOptions): Runtime {
  let sender = options.sender;
  let reader: StatusReader | undefined;
  const logger = options.logger ?? jsonLogger({ service: info.name });
  return {
    info,
    options,
    logger,
    now: options.now ?? (() => new Date()),
    sender() {
      sender ??= sqsMessageSender(options.sqsClient ?? new SQSClient({}));
      return sender;
    },
    status() {
      if (reader === undefined) {
        const store: StatusItemStore =
          options.statusStore ?? dynamoDbStatusStore(options.dynamoDbClient ?? new DynamoDBClient({}));
        reader = createStatusReader({ store, tableName: options.statusTableName });
      }
      return reader;
    },
    observe(outcome) {
      options.onOutcome?.(outcome);
    },
  };
}

/** A message that passed every check: what the wrapper's action works with. */
export interface Accepted {
  readonly delivery: Delivery;
  readonly message: PluginMessage;
  readonly context: PluginContext;
  /** Sends a report for this message; throws ReportDeliveryError when SQS does not take it. */
  report(report: ReportBody): Promise<void>;
}

export type ReportBody =
  | { readonly status: 'In Progress' }
  | { readonly status: 'Complete'; readonly result?: unknown }
  | {
      readonly status: 'Error';
      readonly retryable: boolean;
      readonly message: string;
      /** `PluginError.code`, when the plugin gave one. */
      readonly code?: string;
    };

export type Action = (accepted: Accepted) => Promise<TaskOutcome>;

/**
 * Processes one delivery to the end and says what happened. Never throws: a report that cannot be
 * sent (or any unexpected failure) becomes an `undelivered` outcome, which the wrapper turns into a
 * platform retry.
 */
export async function processDelivery(
  runtime: Runtime,
  delivery: Delivery,
  lambdaContext: LambdaContextLike | undefined,
  action: Action,
): Promise<TaskOutcome> {
  let outcome: TaskOutcome;
  try {
    outcome = await accept(runtime, delivery, lambdaContext, action);
  } catch (error) {
    runtime.logger.error('could not deliver the outcome of a plugin message; it will be delivered again', {
      plugin: runtime.info.name,
      deliveryId: delivery.id,
      error,
    });
    outcome = { type: 'undelivered', deliveryId: delivery.id, error: errorMessage(error) };
  }
  runtime.observe(outcome);
  return outcome;
}

async function accept(
  runtime: Runtime,
  delivery: Delivery,
  lambdaContext: LambdaContextLike | undefined,
  action: Action,
): Promise<TaskOutcome> {
  const { info, logger } = runtime;
  const parsed = pluginMessageSchema.safeParse(parseJson(delivery.body));
  if (!parsed.success) {
    const reason = `not a plugin message: ${describeIssues(parsed.error)}`;
    logger.error('ignoring a message that is not a Plugboard plugin message (no retry can fix it)', {
      plugin: info.name,
      deliveryId: delivery.id,
      reason,
    });
    return { type: 'ignored', deliveryId: delivery.id, reason };
  }
  const message = parsed.data;
  const keys = logKeys(info, message);
  const log = withLogKeys(logger, keys);
  if (!message.plugins.includes(info.name)) {
    const reason = `the message targets ${message.plugins.join(', ')}, not ${info.name}`;
    log.info('ignoring a message for other plugins', { reason, hint: notRegisteredHint(info.name, message) });
    return { type: 'ignored', deliveryId: delivery.id, reason };
  }

  const report = (body: ReportBody) => sendReport(runtime, message, body);

  let status: PluginStatus | undefined;
  if (!info.alwaysRun && info.idempotent) {
    try {
      status = await runtime.status().getPlugin({ ...message, plugin: info.name }, { consistent: true });
    } catch (error) {
      const retryable = isRetryable(error);
      const text = truncateMessage(`could not check the plugin's status: ${errorMessage(error)}`) ?? '';
      log.error('could not read the plugin status; reporting Error', { retryable, error });
      await report({ status: 'Error', retryable, message: text });
      return { type: 'failed', deliveryId: delivery.id, retryable, error: text };
    }
  }
  const skip = skipReason(info, message, status);
  if (skip !== undefined) {
    log.info('skipping the message', { reason: skip });
    return { type: 'skipped', deliveryId: delivery.id, reason: skip };
  }

  const bridgeReported = delivery.attributes[IN_PROGRESS_REPORTED_ATTRIBUTE] === 'true';
  if (info.reportInProgress && !bridgeReported) await report({ status: 'In Progress' });

  const deadlineText = message.deadlines[info.name];
  const deadline = deadlineText === undefined ? undefined : new Date(deadlineText);
  const context: PluginContext = {
    info,
    attempt: message.attempt,
    generation: message.generation,
    mandatory: isMandatoryFor(info, message.activity),
    deadline,
    logKeys: keys,
    logger: log,
    lambdaContext,
    remainingTimeMs() {
      const limits = [
        deadline === undefined ? undefined : deadline.getTime() - runtime.now().getTime(),
        lambdaContext?.getRemainingTimeInMillis(),
      ].filter((value): value is number => value !== undefined);
      return limits.length === 0 ? undefined : Math.min(...limits);
    },
  };
  return action({ delivery, message, context, report });
}

/**
 * Why a message must not run, or `undefined` to run it. `alwaysRun` runs everything; otherwise a
 * plugin that is `Complete` or `Do Not Run`, or whose record belongs to a newer generation or a later
 * attempt (a stale or duplicate delivery), is skipped. No record means the plugin runs.
 */
export function skipReason(
  info: Pick<PluginInfo, 'alwaysRun'>,
  message: Pick<PluginMessage, 'generation' | 'attempt'>,
  status: Pick<PluginStatus, 'state' | 'generation' | 'attempt'> | undefined,
): string | undefined {
  if (info.alwaysRun || status === undefined) return undefined;
  if (status.state === STATES.complete) return `the plugin is already ${STATES.complete}`;
  if (status.state === STATES.doNotRun) return `the plugin is marked ${STATES.doNotRun}`;
  if (status.generation > message.generation) {
    return `stale delivery: the run is at generation ${status.generation}, the message is for generation ${message.generation}`;
  }
  if (status.generation === message.generation && status.attempt > message.attempt) {
    return `stale delivery: the plugin is at attempt ${status.attempt}, the message is for attempt ${message.attempt}`;
  }
  return undefined;
}

/** Runs a plugin handler and reports `Complete` with its result, or `Error`. */
export function runHandler<R>(
  handler: (message: PluginMessage, context: PluginContext) => Promise<R> | R,
): Action {
  return async ({ delivery, message, context, report }) => {
    let result: unknown;
    try {
      result = checkedResult(await handler(message, context));
    } catch (error) {
      const retryable = isRetryable(error);
      const text = truncateMessage(errorMessage(error)) ?? '';
      const code = reportableCode(error, context.logger);
      context.logger.warn('the plugin failed; reporting Error', {
        retryable,
        ...(code === undefined ? {} : { code }),
        error,
      });
      await report({ status: 'Error', retryable, message: text, ...(code === undefined ? {} : { code }) });
      return {
        type: 'failed',
        deliveryId: delivery.id,
        retryable,
        error: text,
        ...(code === undefined ? {} : { code }),
      };
    }
    await report(result === undefined ? { status: 'Complete' } : { status: 'Complete', result });
    context.logger.info('the plugin completed');
    return { type: 'completed', deliveryId: delivery.id, result };
  };
}

/** The result as it will travel (a JSON copy), or an error when it is not JSON or too large. */
export function checkedResult(result: unknown): unknown {
  if (result === undefined) return undefined;
  let json: string | undefined;
  try {
    json = JSON.stringify(result);
  } catch (error) {
    throw new InvalidResultError(`result cannot be serialized as JSON: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  if (json === undefined) return undefined;
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > LIMITS.resultBytes) throw new ResultTooLargeError(bytes, LIMITS.resultBytes);
  return JSON.parse(json);
}

async function sendReport(runtime: Runtime, message: PluginMessage, body: ReportBody): Promise<void> {
  const base = {
    schemaVersion: SCHEMA_VERSION,
    kind: 'report' as const,
    workflow: message.workflow,
    uid: message.uid,
    generation: message.generation,
    activity: message.activity,
    stage: message.stage,
    plugin: runtime.info.name,
    attempt: message.attempt,
    reportedAt: runtime.now().toISOString(),
  };
  const report: Report =
    body.status === 'Error'
      ? {
          ...base,
          status: 'Error',
          retryable: body.retryable,
          message: truncateMessage(body.message),
          ...(body.code === undefined ? {} : { code: body.code }),
        }
      : body.status === 'Complete'
        ? { ...base, status: 'Complete', ...('result' in body ? { result: body.result } : {}) }
        : { ...base, status: 'In Progress' };
  await send(runtime, { queueUrl: message.replyTo.queueUrl, body: JSON.stringify(report) }, body.status);
}

/** Sends one message, wrapping any failure in a ReportDeliveryError. */
export async function send(runtime: Runtime, outgoing: OutgoingMessage, what: string): Promise<void> {
  try {
    await runtime.sender().send(outgoing);
  } catch (error) {
    throw new ReportDeliveryError(
      `could not send ${what} to ${outgoing.queueUrl}: ${errorMessage(error)}`,
      outgoing.queueUrl,
      {
        cause: error,
      },
    );
  }
}

/**
 * The `code` of a thrown `PluginError`, when it fits the report's rule; an unfit one is logged and left out, so the report is still accepted.
 */
export function reportableCode(error: unknown, logger: PluginLogger): string | undefined {
  if (!isPluginError(error)) return undefined;
  const code = error.code;
  if (code === undefined) return undefined;
  if (errorCode.safeParse(code).success) return code;
  logger.warn(
    'PluginError.code is left out of the report: it must be 1-64 letters, digits, "_", "-", "." or ":", starting with a letter or digit (e.g. NO_CUSTOMER)',
    {
      code: String(code).slice(0, 100),
    },
  );
  return undefined;
}

/** What to do when a plugin keeps receiving messages that do not target it. */
function notRegisteredHint(plugin: string, message: PluginMessage): string {
  return `if ${plugin} should run in ${message.activity}/${message.stage}, register it: a subscription alone does not register a plugin. Use OrchestratorPlugin (@plugboard/plugin-kit/cdk) or a Custom::PlugboardPluginRegistration resource (docs/without-cdk.md), and subscribe with the filter policy {"plugins": ["${plugin}"]} so it receives only its own messages`;
}

function logKeys(info: PluginInfo, message: PluginMessage): PluginLogKeys {
  return {
    workflow: message.workflow,
    uid: message.uid,
    generation: message.generation,
    activity: message.activity,
    stage: message.stage,
    plugin: info.name,
    attempt: message.attempt,
  };
}
