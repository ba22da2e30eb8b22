/**
 * The scheduled liveness function: every minute (by default) it counts the active runs of every
 * configured workflow, finds the inactive and stuck ones, puts ActiveWorkflows, InactiveWorkflows and
 * StuckWorkflows with `PutMetricData`, and alerts once per stuck run. Thin: it wires the adapters to
 * the check in monitor.ts. `PutMetricData` lives here only (the other handlers emit EMF).
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { METRICS_NAMESPACE } from '../lambdas/handlers/metric-names.js';
import { CloudWatchMetricSink } from './cloudwatch-metric-sink.js';
import { type MetricsConfig, readMetricsConfig } from './config.js';
import { DynamoRunReader } from './dynamo-run-reader.js';
import { type Clock, checkLiveness, type LivenessReport, type MonitorLog } from './monitor.js';
import { SnsAlertSender } from './sns-alert-sender.js';

export interface MetricsHandlerDeps {
  readonly config: MetricsConfig;
  readonly dynamo: DynamoDBDocumentClient;
  readonly cloudwatch: CloudWatchClient;
  readonly sns: SNSClient;
  /** @default the system clock */
  readonly clock?: Clock;
  /** @default a Powertools logger (one JSON line per event) */
  readonly log?: MonitorLog;
  /** @default 'Plugboard' (METRICS_NAMESPACE, shared with the EMF metrics) */
  readonly namespace?: string;
  /** @default 1000, the PutMetricData limit */
  readonly maxDatumsPerRequest?: number;
}

export type MetricsHandler = (event?: unknown) => Promise<LivenessReport>;

const systemClock: Clock = { now: () => new Date() };

/** Builds the handler from its dependencies (tests pass fake or moto-bound clients and a fake clock). */
export function createMetricsHandler(deps: MetricsHandlerDeps): MetricsHandler {
  const { config } = deps;
  const reader = new DynamoRunReader({ client: deps.dynamo, tableName: config.tableName });
  const monitorDeps = {
    reader,
    ledger: reader,
    alerts: new SnsAlertSender({
      client: deps.sns,
      topicArn: config.alertsTopicArn,
      deploymentStage: config.deploymentStage,
    }),
    metrics: new CloudWatchMetricSink({
      client: deps.cloudwatch,
      namespace: deps.namespace ?? METRICS_NAMESPACE,
      ...(deps.maxDatumsPerRequest !== undefined ? { maxDatumsPerRequest: deps.maxDatumsPerRequest } : {}),
    }),
    clock: deps.clock ?? systemClock,
    log: deps.log ?? powertoolsLog(config.deploymentStage),
  };
  // The scheduled event carries nothing the check needs: every run looks at the whole deployment.
  return async () => checkLiveness(monitorDeps, config);
}

function powertoolsLog(deploymentStage: string): MonitorLog {
  const logger = new Logger({ serviceName: 'plugboard-metrics', persistentKeys: { deploymentStage } });
  return {
    info: (message, detail) => logger.info(message, detail),
    warn: (message, detail) => logger.warn(message, detail),
  };
}

// Clients are created once per container; the configuration is read once, on the first event, and a
// missing or malformed variable fails that invocation naming the variable.
const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});
// Uncompressed: a full PutMetricData batch (1,000 items) stays far below the 1 MB limit, and moto
// (the local cloud) cannot read gzip-compressed requests.
const cloudwatch = new CloudWatchClient({ disableRequestCompression: true });
const sns = new SNSClient({});
let deployed: MetricsHandler | undefined;

export const handler: MetricsHandler = async (event) => {
  deployed ??= createMetricsHandler({ config: readMetricsConfig(process.env), dynamo, cloudwatch, sns });
  return deployed(event);
};
