/**
 * Stage orchestrator: one deployment per activity and stage, this shared code. Consumes its inbox —
 * start-stage, retry and timeout commands and plugin reports — and drives the engine.
 */

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { DynamoRegistry } from '../adapters/dynamo-registry.js';
import { DynamoStatusStore } from '../adapters/dynamo-status-store.js';
import { SnsDispatcher } from '../adapters/sns-dispatcher.js';
import { SnsEventPublisher } from '../adapters/sns-event-publisher.js';
import { SqsCommandBus } from '../adapters/sqs-command-bus.js';
import { SqsQuarantine } from '../adapters/sqs-quarantine.js';
import { type Command, type InboxMessage, inboxMessageSchema, type Report } from '../contracts/index.js';
import type { EngineDeps } from '../engine/deps.js';
import { MisroutedMessageError } from '../engine/errors.js';
import { type AttemptSignal, applySignals, retryPlugins, startStage } from '../engine/stage.js';
import { filterMatcher } from './filter-matcher.js';
import { createObservability, METRIC_NAMES, type Observability } from './observability.js';
import { readCommonConfig, readStageConfig, type StageConfig } from './runtime-config.js';
import { isPermanent, parseRecord, toBatchResponse } from './sqs-batch.js';

export interface StageHandlerDeps {
  readonly engine: EngineDeps;
  readonly self: Pick<StageConfig, 'activity' | 'stage'>;
  readonly quarantine: Pick<SqsQuarantine, 'quarantine'>;
  readonly observability: Observability;
}

type StartStageCommand = Extract<Command, { kind: 'start-stage' }>;
type RetryCommand = Extract<Command, { kind: 'retry' }>;
type Item = { readonly record: SQSRecord; readonly message: InboxMessage };

/** Builds the handler around its dependencies (tests inject fakes; `handler` below wires AWS). */
export function createStageHandler(deps: StageHandlerDeps): (event: SQSEvent) => Promise<SQSBatchResponse> {
  const { logger, metrics } = deps.observability;
  return async (event) => {
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

    const items: Item[] = [];
    for (const record of event.Records) {
      const parsed = parseRecord(record, inboxMessageSchema);
      if (!parsed.ok) {
        await quarantine(record, parsed.reason);
        continue;
      }
      const { activity, stage } = parsed.message;
      if (activity !== deps.self.activity || stage !== deps.self.stage) {
        await quarantine(
          record,
          new MisroutedMessageError(
            `addressed to ${activity}/${stage}, but this is the inbox of ${deps.self.activity}/${deps.self.stage}`,
          ).message,
        );
        continue;
      }
      items.push({ record, message: parsed.message });
    }

    for (const group of groupByRun(items)) {
      await runGroup(deps, group, failures, quarantine);
    }
    return toBatchResponse(failures);
  };
}

function groupByRun(items: readonly Item[]): Item[][] {
  const groups = new Map<string, Item[]>();
  for (const item of items) {
    const key = `${item.message.workflow}#${item.message.uid}`;
    const group = groups.get(key) ?? [];
    group.push(item);
    groups.set(key, group);
  }
  return [...groups.values()];
}

/**
 * One run's messages, in a safe order: start-stage, then reports and timeouts (as one batch, so their
 * count-down is one write), then retries. A transient failure hands every message not yet done back to
 * SQS; a permanent one quarantines the message that caused it.
 */
async function runGroup(
  deps: StageHandlerDeps,
  group: readonly Item[],
  failures: SQSBatchItemFailure[],
  quarantine: (record: SQSRecord, reason: string) => Promise<void>,
): Promise<void> {
  const starts = group.filter((i) => i.message.kind === 'start-stage');
  const signals = group.filter((i) => i.message.kind === 'report' || i.message.kind === 'timeout');
  const retries = group.filter((i) => i.message.kind === 'retry');

  /**
   * Runs `work` for a batch of messages. Transient error: every message of the batch goes back to
   * SQS. Permanent error: a single message is quarantined; a larger batch is split into single
   * messages so only the one that causes it is quarantined.
   */
  const run = async (
    batch: readonly Item[],
    work: (items: readonly Item[]) => Promise<unknown>,
  ): Promise<void> => {
    try {
      await work(batch);
    } catch (error) {
      if (!isPermanent(error)) {
        deps.observability.logger.warn('messages handed back for another delivery', {
          count: batch.length,
          error,
        });
        for (const item of batch) failures.push({ itemIdentifier: item.record.messageId });
        return;
      }
      const [only] = batch;
      if (batch.length === 1 && only) {
        await quarantine(only.record, (error as Error).message);
        return;
      }
      for (const item of batch) await run([item], work);
    }
  };

  const delivery = (items: readonly Item[]) => ({
    redelivered: items.some((i) => Number(i.record.attributes.ApproximateReceiveCount ?? '1') > 1),
  });
  for (const item of starts) {
    await run([item], (items) => startStage(deps.engine, item.message as StartStageCommand, delivery(items)));
  }
  const first = signals[0];
  if (first) {
    const key = { workflow: first.message.workflow, uid: first.message.uid, ...deps.self };
    await run(signals, (items) => applySignals(deps.engine, key, items.map(toSignal), delivery(items)));
  }
  if (retries.length > 0) {
    await run(retries, (items) =>
      retryPlugins(
        deps.engine,
        items.map((i) => i.message as RetryCommand),
      ),
    );
  }
}

function toSignal(item: Item): AttemptSignal {
  const message = item.message;
  if (message.kind === 'timeout') return { kind: 'timeout', command: message };
  return { kind: 'report', report: message as Report };
}

let wired: ((event: SQSEvent) => Promise<SQSBatchResponse>) | undefined;

function wireFromEnvironment(): (event: SQSEvent) => Promise<SQSBatchResponse> {
  const common = readCommonConfig();
  const own = readStageConfig();
  const sns = new SNSClient({});
  const sqs = new SQSClient({});
  const observability = createObservability(`plugboard-${own.activity}-${own.stage}`, common.deploymentStage);
  const store = new DynamoStatusStore({ tableName: common.tableName });
  return createStageHandler({
    self: own,
    observability,
    quarantine: new SqsQuarantine(own.quarantineUrl, sqs),
    engine: {
      store,
      registry: new DynamoRegistry({ tableName: common.tableName }),
      dispatcher: new SnsDispatcher(own.topicArn, sns),
      commands: new SqsCommandBus(common.engine.inboxUrl, sqs),
      events: new SnsEventPublisher(common.eventsTopicArn, sns),
      clock: { now: () => new Date() },
      config: common.engine,
      matchesFilter: filterMatcher,
      observer: observability.observer,
    },
  });
}

/** Lambda entry point. Configuration is read and clients are created once per container. */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  wired ??= wireFromEnvironment();
  return wired(event);
}
