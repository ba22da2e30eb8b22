/** Deadline sweeper: runs on a schedule and turns passed deadlines into timeout commands. */
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoStatusStore } from '../adapters/dynamo-status-store.js';
import { SqsCommandBus } from '../adapters/sqs-command-bus.js';
import type { EngineDeps } from '../engine/deps.js';
import { type SweepResult, sweepDeadlines } from '../engine/sweeper.js';
import { createObservability, type Observability } from './observability.js';
import { readCommonConfig } from './runtime-config.js';

export function createSweeperHandler(
  engine: Pick<EngineDeps, 'store' | 'commands' | 'clock' | 'config'>,
  observability: Observability,
): () => Promise<SweepResult> {
  return async () => {
    const result = await sweepDeadlines(engine);
    observability.logger.info('deadline sweep done', { ...result });
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
        store: new DynamoStatusStore({ tableName: common.tableName }),
        commands: new SqsCommandBus(common.engine.inboxUrl, new SQSClient({})),
        clock: { now: () => new Date() },
        config: common.engine,
      },
      createObservability('plugboard-sweeper', common.deploymentStage),
    );
  }
  return wired();
}
