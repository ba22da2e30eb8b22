/**
 * The API function: API Gateway HTTP API (payload 2.0) events in, responses out. Wires the request
 * handling of app.ts to DynamoDB (reads, the runs listing and the operator writes), the start
 * function (every start goes through it, so the API validates and starts exactly as the queue, a
 * direct invoke and the CLI do), SQS (the operator's nudges to stage inboxes), SNS (lifecycle events)
 * and CloudWatch (plugin liveness). Clients are created once per execution environment.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { readPluginHealth } from '../../bin/cli/plugin-health.js';
import { DEFAULT_INACTIVE_MINUTES, DEFAULT_STUCK_MINUTES } from '../../metrics/names.js';
import { DynamoRegistry } from '../adapters/dynamo-registry.js';
import { DynamoStatusStore } from '../adapters/dynamo-status-store.js';
import { SqsCommandBus } from '../adapters/sqs-command-bus.js';
import { createObservability } from '../handlers/observability.js';
import { createEventPublisher, readCommonConfig, required } from '../handlers/runtime-config.js';
import type { StartResponse } from '../handlers/start.js';
import { type ApiEvent, type ApiResult, createApiHandler } from './app.js';
import { inputsOfPackedConfig } from './inputs.js';
import { START_FUNCTION_ENV } from './routes.js';
import { DynamoRunListing } from './run-listing.js';

const lambda = new LambdaClient({});
const cloudwatch = new CloudWatchClient({});
const sqs = new SQSClient({});
const sns = new SNSClient({});

function wireFromEnvironment(): (event: ApiEvent) => Promise<ApiResult> {
  const common = readCommonConfig();
  const startFunction = required(process.env, START_FUNCTION_ENV);
  const { logger } = createObservability('plugboard-api', common.deploymentStage);
  const clock = { now: () => new Date() };
  const ref = { systemName: common.system, stage: common.deploymentStage };
  return createApiHandler({
    store: new DynamoStatusStore({ tableName: common.tableName }),
    runs: new DynamoRunListing({ tableName: common.tableName }),
    registry: new DynamoRegistry({ tableName: common.tableName }),
    events: createEventPublisher(common, { sns }),
    commands: new SqsCommandBus(common.engine.inboxUrl, sqs),
    clock,
    config: common.engine,
    inputs: inputsOfPackedConfig(process.env.PLUGBOARD_CONFIG),
    deploymentStage: common.deploymentStage,
    start: async (request) => {
      const output = await lambda.send(
        new InvokeCommand({
          FunctionName: startFunction,
          InvocationType: 'RequestResponse',
          Payload: new TextEncoder().encode(JSON.stringify(request)),
        }),
      );
      const text = output.Payload ? new TextDecoder().decode(output.Payload) : '';
      if (output.FunctionError) {
        return {
          ok: false,
          error: { type: 'StartFunctionError', message: 'The start function failed.', retryable: true },
        };
      }
      return JSON.parse(text) as StartResponse;
    },
    liveness: (plugins, now) =>
      readPluginHealth(cloudwatch, ref, plugins, now, {
        inactiveMinutes: DEFAULT_INACTIVE_MINUTES,
        stuckMinutes: DEFAULT_STUCK_MINUTES,
        windowMinutes: Math.max(60, DEFAULT_STUCK_MINUTES),
      }),
    log: (entry) => logger.info(String(entry.message ?? 'api'), { ...entry, message: undefined }),
  });
}

let wired: ReturnType<typeof wireFromEnvironment> | undefined;

/** Lambda entry point of the HTTP API. */
export async function handler(event: ApiEvent): Promise<ApiResult> {
  wired ??= wireFromEnvironment();
  return wired(event);
}
