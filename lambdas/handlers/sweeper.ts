/** Deadline sweeper: runs on a schedule and turns passed deadlines into timeout commands (ADR 0010). */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoStatusStore } from '../adapters/dynamo-status-store.js';
import { SqsCommandBus } from '../adapters/sqs-command-bus.js';
import type { EngineDeps } from '../engine/deps.js';
import { type SweepResult, sweepDeadlines } from '../engine/sweeper.js';
import { METRIC_NAMES } from './metric-names.js';
import { createObservability, type Observability } from './observability.js';
import { readCommonConfig } from './runtime-config.js';

/** The sweeper's schedule (core stack): a tick covers the deadlines until the next one. */
export const SWEEP_INTERVAL_SECONDS = 60;

export function createSweeperHandler(
  engine: Pick<EngineDeps, 'store' | 'commands' | 'clock' | 'config'>,
  observability: Observability,
): () => Promise<SweepResult> {
  return async () => {
    const result = await sweepDeadlines(engine, { lookaheadSeconds: SWEEP_INTERVAL_SECONDS });
    const { logger, metrics } = observability;
    if (result.lagSeconds > 0) logger.warn('deadline sweep fell behind', { ...result });
    else logger.info('deadline sweep done', { ...result });
    // One datum per sweep, even when nothing was due: a missing series means the sweeper is not running.
    metrics.singleMetric().addMetric(METRIC_NAMES.sweeperLag, MetricUnit.Seconds, result.lagSeconds);
    metrics
      .singleMetric()
      .addMetric(METRIC_NAMES.sweeperOldestDue, MetricUnit.Seconds, result.oldestDueSeconds);
    metrics.singleMetric().addMetric(METRIC_NAMES.sweeperTimeouts, MetricUnit.Count, result.timeoutsSent);
    return result;
  };
}

let wired: (() => Promise<SweepResult>) | undefined;

/** Lambda entry point (EventBridge schedule; the event carries nothing the sweep needs). */
export async function handler(): Promise<SweepResult> {
  if (!wired) {
    const common = readCommonConfig();
    wired = createSweeperHandler(
      {
        store: new DynamoStatusStore({ tableName: common.tableName, indexShards: common.indexShards }),
        commands: new SqsCommandBus(common.engine.inboxUrl, new SQSClient({})),
        clock: { now: () => new Date() },
        config: common.engine,
      },
      createObservability('plugboard-sweeper', common.deploymentStage),
    );
  }
  return wired();
}
