/**
 * Stage orchestrator: one deployment per activity and stage, this shared code. Consumes its inbox —
 * plugin reports, and retry, timeout and operator commands — and drives the engine. Parsing, the
 * sender of each message (SQS `SenderId`) and the dead-letter queue are here; what a batch means and
 * who may send what are `engine/inbox.ts` and `engine/sender.ts`.
 */

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { CachedRegistry } from '../adapters/cached-registry.js';
import { DynamoRegistry } from '../adapters/dynamo-registry.js';
import { DynamoStatusStore } from '../adapters/dynamo-status-store.js';
import { SnsDispatcher } from '../adapters/sns-dispatcher.js';
import { SqsCommandBus } from '../adapters/sqs-command-bus.js';
import { SqsQuarantine } from '../adapters/sqs-quarantine.js';
import { inboxMessageSchema, type StageName } from '../contracts/index.js';
import type { EngineDeps } from '../engine/deps.js';
import { handleInboxBatch, type InboxAuthentication, type InboxItem } from '../engine/inbox.js';
import type { Registry } from '../engine/ports.js';
import type { SenderRules } from '../engine/sender.js';
import { filterMatcher } from './filter-matcher.js';
import { createObservability, METRIC_NAMES, type Observability } from './observability.js';
import {
  ConfigurationError,
  createEventPublisher,
  readCommonConfig,
  readStageConfig,
  required,
  type StageConfig,
} from './runtime-config.js';
import { parseRecord, toBatchResponse } from './sqs-batch.js';
import { createTracer, runsOfEvent, traceRuns } from './tracing.js';

export interface StageHandlerDeps {
  readonly engine: EngineDeps;
  readonly self: Pick<StageConfig, 'activity' | 'stage'>;
  readonly quarantine: Pick<SqsQuarantine, 'quarantine'>;
  readonly observability: Observability;
  /**
   * Who may send what to this inbox, and the registry their registrations are read from (`invalidate`
   * drops a cached answer, so a refusal is decided on a fresh read). The Lambda wiring always sets it.
   * @default - senders are not checked (engine test harnesses without a transport)
   */
  readonly senders?: {
    readonly rules: SenderRules;
    readonly registry: Pick<Registry, 'list'> & { invalidate?(activity: string, stage: StageName): void };
  };
}

/** Builds the handler around its dependencies (tests inject fakes; `handler` below wires AWS). */
export function createStageHandler(
  deps: StageHandlerDeps,
): (event: SQSEvent, context?: Pick<Context, 'getRemainingTimeInMillis'>) => Promise<SQSBatchResponse> {
  const { logger, metrics } = deps.observability;
  const senders = deps.senders;
  const authentication: InboxAuthentication | undefined = senders && {
    rules: senders.rules,
    registrations: (fresh) => {
      if (fresh) senders.registry.invalidate?.(deps.self.activity, deps.self.stage);
      return senders.registry.list(deps.self.activity, deps.self.stage);
    },
  };
  return async (event, context) => {
    const failures: SQSBatchItemFailure[] = [];
    const quarantine = async (record: SQSRecord, reason: string) => {
      logger.error('message quarantined', { messageId: record.messageId, reason });
      metrics.singleMetric().addMetric(METRIC_NAMES.quarantined, MetricUnit.Count, 1);
      try {
        await deps.quarantine.quarantine(record.body, reason, `${deps.self.activity}/${deps.self.stage}`);
      } catch (error) {
        logger.error('quarantine failed; the message stays in the inbox', {
          messageId: record.messageId,
          error,
        });
        failures.push({ itemIdentifier: record.messageId });
      }
    };

    const records = new Map<string, SQSRecord>();
    const items: InboxItem[] = [];
    for (const record of event.Records) {
      records.set(record.messageId, record);
      const parsed = parseRecord(record, inboxMessageSchema);
      if (!parsed.ok) {
        await quarantine(record, parsed.reason);
        continue;
      }
      items.push({
        id: record.messageId,
        message: parsed.message,
        redelivered: Number(record.attributes.ApproximateReceiveCount ?? '1') > 1,
        ...(record.attributes.SenderId ? { sender: record.attributes.SenderId } : {}),
      });
    }

    const outcome = await handleInboxBatch(deps.engine, deps.self, items, {
      log: logger,
      ...(authentication ? { authenticate: authentication } : {}),
      ...(typeof context?.getRemainingTimeInMillis === 'function'
        ? { remainingMs: () => context.getRemainingTimeInMillis() }
        : {}),
    });
    for (const { id, reason } of outcome.quarantine) {
      const record = records.get(id);
      if (record) await quarantine(record, reason);
    }
    for (const id of outcome.retry) failures.push({ itemIdentifier: id });
    if (outcome.unauthenticated) {
      metrics
        .singleMetric()
        .addMetric(METRIC_NAMES.unauthenticatedSenders, MetricUnit.Count, outcome.unauthenticated);
    }
    if (outcome.legacySenders) {
      logger.warn(
        'reports accepted for registrations without principals; redeploy their stacks with the kit',
        {
          count: outcome.legacySenders,
        },
      );
      metrics
        .singleMetric()
        .addMetric(METRIC_NAMES.legacySenderReports, MetricUnit.Count, outcome.legacySenders);
    }
    return toBatchResponse(failures);
  };
}

type StageHandler = ReturnType<typeof createStageHandler>;
let wired: StageHandler | undefined;

function wireFromEnvironment(): StageHandler {
  const common = readCommonConfig();
  const own = readStageConfig();
  const sns = new SNSClient({});
  const sqs = new SQSClient({});
  const observability = createObservability(`plugboard-${own.activity}-${own.stage}`, common.deploymentStage);
  const clock = { now: () => new Date() };
  const registry = new CachedRegistry(new DynamoRegistry({ tableName: common.tableName }), clock);
  const handler = createStageHandler({
    self: own,
    observability,
    quarantine: new SqsQuarantine(own.quarantineUrl, sqs),
    senders: { rules: readSenderRules(), registry },
    engine: {
      store: new DynamoStatusStore({ tableName: common.tableName }),
      registry,
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
  return traceRuns(createTracer(`plugboard-${own.activity}-${own.stage}`), runsOfEvent, handler);
}

const ROLE_ID = /^[A-Z0-9]{16,128}$/;

/**
 * The sender rules from the environment the stage construct sets: `PLUGBOARD_COMMAND_SENDERS` (the
 * engine's role ids, required) and `PLUGBOARD_OPERATOR_PRINCIPALS` (may be empty), both comma-separated.
 */
export function readSenderRules(
  env: Readonly<Record<string, string | undefined>> = process.env,
): SenderRules {
  const list = (name: string, value: string): string[] => {
    const ids = value
      .split(',')
      .map((id) => id.trim())
      .filter((id) => id !== '');
    const bad = ids.filter((id) => !ROLE_ID.test(id));
    if (bad.length > 0) {
      throw new ConfigurationError(
        `${name} must list IAM unique ids such as "AROA…" separated by commas; not ids: ${bad.map((id) => JSON.stringify(id.slice(0, 40))).join(', ')}.`,
      );
    }
    return ids;
  };
  const engine = list('PLUGBOARD_COMMAND_SENDERS', required(env, 'PLUGBOARD_COMMAND_SENDERS'));
  const operators = list('PLUGBOARD_OPERATOR_PRINCIPALS', env.PLUGBOARD_OPERATOR_PRINCIPALS ?? '');
  return { engine, operators };
}

/** Lambda entry point. Configuration is read and clients are created once per container. */
export async function handler(event: SQSEvent, context?: Context): Promise<SQSBatchResponse> {
  wired ??= wireFromEnvironment();
  return wired(event, context);
}
