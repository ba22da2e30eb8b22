/**
 * Start function: consumes the start queue, and answers direct invocations (the CLI's synchronous
 * start) with either the run or a clear validation error.
 */
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { CachedRegistry } from '../adapters/cached-registry.js';
import { DynamoRegistry } from '../adapters/dynamo-registry.js';
import { DynamoStatusStore } from '../adapters/dynamo-status-store.js';
import { SnsDispatcher } from '../adapters/sns-dispatcher.js';
import { SqsCommandBus } from '../adapters/sqs-command-bus.js';
import { SqsQuarantine } from '../adapters/sqs-quarantine.js';
import { inputIssues, inputsOfPackedConfig, type WorkflowInputs } from '../api/inputs.js';
import { byteLength, describeIssues, type StartRequest, startRequestSchema } from '../contracts/index.js';
import type { EngineDeps } from '../engine/deps.js';
import { EngineError, ValidationError } from '../engine/errors.js';
import { type StartOutcome, startRun } from '../engine/start.js';
import { filterMatcher } from './filter-matcher.js';
import { createObservability, type Observability } from './observability.js';
import { createEventPublisher, readCommonConfig, required } from './runtime-config.js';
import { isPermanent, parseRecord, toBatchResponse } from './sqs-batch.js';
import { createTracer, runsOfEvent, traceRuns } from './tracing.js';

/** What a direct invocation returns. */
export type StartResponse =
  | {
      readonly ok: true;
      readonly outcome: StartOutcome['outcome'];
      readonly run: { workflow: string; uid: string; generation: number; state: string; createdAt: string };
    }
  | {
      readonly ok: false;
      readonly error: { readonly type: string; readonly message: string; readonly retryable: boolean };
    };

/** Largest start request accepted, checked before it is parsed (metadata's 32 KiB limit plus room). */
export const MAX_START_REQUEST_BYTES = 64 * 1024;
/** Longest reason a refusal carries (the issues are listed before it is cut). */
const MAX_REASON_CHARS = 2000;

const capped = (reason: string): string =>
  reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS - 1)}…` : reason;

export interface StartHandlerDeps {
  readonly engine: EngineDeps;
  /** Declared workflow inputs: a start whose metadata does not match is refused, naming each field. */
  readonly inputs?: WorkflowInputs;
  readonly quarantine: Pick<SqsQuarantine, 'quarantine'>;
  readonly observability: Observability;
}

function isSqsEvent(event: unknown): event is SQSEvent {
  return (
    typeof event === 'object' &&
    event !== null &&
    Array.isArray((event as { Records?: unknown }).Records) &&
    (event as SQSEvent).Records.every((r) => r?.eventSource === 'aws:sqs')
  );
}

export function createStartHandler(deps: StartHandlerDeps) {
  const { logger } = deps.observability;
  const engine = deps.engine;

  /** The reason a parsed start does not match its workflow's declared input, if it does not. */
  function inputProblem(request: StartRequest): string | undefined {
    const input = deps.inputs?.[request.workflow];
    if (input === undefined) return undefined;
    const issues = inputIssues(input, request.metadata);
    if (issues.length === 0) return undefined;
    return capped(
      `Invalid start request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')} (the declared input of ${request.workflow})`,
    );
  }

  async function direct(event: unknown): Promise<StartResponse> {
    const size = byteLength(event);
    if (size > MAX_START_REQUEST_BYTES) {
      return {
        ok: false,
        error: {
          type: 'ValidationError',
          message: `Invalid start request: it is ${size} bytes of JSON; at most ${MAX_START_REQUEST_BYTES} are accepted (metadata itself may be 32 KiB).`,
          retryable: false,
        },
      };
    }
    const parsed = startRequestSchema.safeParse(event);
    if (!parsed.success) {
      return {
        ok: false,
        error: {
          type: 'ValidationError',
          message: capped(`Invalid start request: ${describeIssues(parsed.error)}`),
          retryable: false,
        },
      };
    }
    const bad = inputProblem(parsed.data);
    if (bad !== undefined) {
      return { ok: false, error: { type: 'ValidationError', message: bad, retryable: false } };
    }
    try {
      const result = await startRun(engine, parsed.data);
      const { run } = result;
      return {
        ok: true,
        outcome: result.outcome,
        run: {
          workflow: run.workflow,
          uid: run.uid,
          generation: run.generation,
          state: run.state,
          createdAt: run.createdAt,
        },
      };
    } catch (error) {
      if (error instanceof EngineError) {
        return { ok: false, error: { type: error.name, message: error.message, retryable: error.retryable } };
      }
      throw error;
    }
  }

  async function fromQueue(event: SQSEvent): Promise<SQSBatchResponse> {
    const failures: SQSBatchItemFailure[] = [];
    for (const record of event.Records) {
      const tooLarge = Buffer.byteLength(record.body, 'utf8') > MAX_START_REQUEST_BYTES;
      const parsed = tooLarge
        ? ({ ok: false, reason: `the message is over ${MAX_START_REQUEST_BYTES} bytes` } as const)
        : parseRecord(record, startRequestSchema);
      try {
        if (!parsed.ok) throw new ValidationError(capped(`Invalid start request: ${parsed.reason}`));
        const bad = inputProblem(parsed.message);
        if (bad !== undefined) throw new ValidationError(bad);
        const result = await startRun(engine, parsed.message);
        logger.info('start request handled', {
          workflow: result.run.workflow,
          uid: result.run.uid,
          outcome: result.outcome,
        });
      } catch (error) {
        if (isPermanent(error)) {
          logger.error('start request quarantined', {
            messageId: record.messageId,
            reason: (error as Error).message,
          });
          try {
            await deps.quarantine.quarantine(record.body, (error as Error).message, 'start');
          } catch (quarantineError) {
            logger.error('quarantine failed; the request stays in the queue', { quarantineError });
            failures.push({ itemIdentifier: record.messageId });
          }
        } else {
          logger.warn('start request handed back for another delivery', {
            messageId: record.messageId,
            error,
          });
          failures.push({ itemIdentifier: record.messageId });
        }
      }
    }
    return toBatchResponse(failures);
  }

  return async (event: unknown): Promise<SQSBatchResponse | StartResponse> => {
    if (isSqsEvent(event)) return fromQueue(event);
    return direct(event);
  };
}

let wired: ReturnType<typeof createStartHandler> | undefined;

function wireFromEnvironment(): ReturnType<typeof createStartHandler> {
  const common = readCommonConfig();
  const sqs = new SQSClient({});
  const sns = new SNSClient({});
  const observability = createObservability('plugboard-start', common.deploymentStage);
  const clock = { now: () => new Date() };
  const handler = createStartHandler({
    observability,
    inputs: inputsOfPackedConfig(process.env.PLUGBOARD_CONFIG),
    quarantine: new SqsQuarantine(required(process.env, 'PLUGBOARD_QUARANTINE_URL'), sqs),
    engine: {
      store: new DynamoStatusStore({ tableName: common.tableName }),
      // The start enters the run's first stage itself: registry, dispatch and filter evaluation.
      registry: new CachedRegistry(new DynamoRegistry({ tableName: common.tableName }), clock),
      dispatcher: new SnsDispatcher(common.engine.topicArn, sns),
      commands: new SqsCommandBus(common.engine.inboxUrl, sqs),
      events: createEventPublisher(common, { sns }),
      clock,
      config: common.engine,
      matchesFilter: filterMatcher,
      observer: observability.observer,
    },
  });
  // With X-Ray on, each invocation's subsegment carries the workflow and uid it worked on.
  return traceRuns(createTracer('plugboard-start'), runsOfEvent, handler);
}

/** Lambda entry point: an SQS batch from the start queue, or a start request invoked directly. */
export async function handler(event: unknown): Promise<SQSBatchResponse | StartResponse> {
  wired ??= wireFromEnvironment();
  return wired(event);
}
