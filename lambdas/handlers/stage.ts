/**
 * Stage orchestrator: one deployment per activity and stage, this shared code. Consumes its inbox —
 * plugin reports, and retry, timeout and operator commands — and drives the engine. Parsing and the
 * dead-letter queue are here; what a batch means is `engine/inbox.ts`.
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
import { inboxMessageSchema } from '../contracts/index.js';
import type { EngineDeps } from '../engine/deps.js';
import { handleInboxBatch, type InboxItem } from '../engine/inbox.js';
import { filterMatcher } from './filter-matcher.js';
import { createObservability, METRIC_NAMES, type Observability } from './observability.js';
import {
  createEventPublisher,
  readCommonConfig,
  readStageConfig,
  type StageConfig,
} from './runtime-config.js';
import { parseRecord, toBatchResponse } from './sqs-batch.js';
import { createTracer, runsOfEvent, traceRuns } from './tracing.js';

export interface StageHandlerDeps {
  readonly engine: EngineDeps;
  readonly self: Pick<StageConfig, 'activity' | 'stage'>;
  readonly quarantine: Pick<SqsQuarantine, 'quarantine'>;
  readonly observability: Observability;
}

/** Builds the handler around its dependencies (tests inject fakes; `handler` below wires AWS). */
export function createStageHandler(
  deps: StageHandlerDeps,
): (event: SQSEvent, context?: Pick<Context, 'getRemainingTimeInMillis'>) => Promise<SQSBatchResponse> {
  const { logger, metrics } = deps.observability;
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
      });
    }

    const outcome = await handleInboxBatch(deps.engine, deps.self, items, {
      log: logger,
      ...(typeof context?.getRemainingTimeInMillis === 'function'
        ? { remainingMs: () => context.getRemainingTimeInMillis() }
        : {}),
    });
    for (const { id, reason } of outcome.quarantine) {
      const record = records.get(id);
      if (record) await quarantine(record, reason);
    }
    for (const id of outcome.retry) failures.push({ itemIdentifier: id });
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
  const handler = createStageHandler({
    self: own,
    observability,
    quarantine: new SqsQuarantine(own.quarantineUrl, sqs),
    engine: {
      store: new DynamoStatusStore({ tableName: common.tableName }),
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
  return traceRuns(createTracer(`plugboard-${own.activity}-${own.stage}`), runsOfEvent, handler);
}

/** Lambda entry point. Configuration is read and clients are created once per container. */
export async function handler(event: SQSEvent, context?: Context): Promise<SQSBatchResponse> {
  wired ??= wireFromEnvironment();
  return wired(event, context);
}
