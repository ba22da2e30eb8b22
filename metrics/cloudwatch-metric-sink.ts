/**
 * CloudWatch adapter of the metric sink: `PutMetricData` in as few requests as the API allows.
 */
import {
  type CloudWatchClient,
  type MetricDatum,
  PutMetricDataCommand,
  StandardUnit,
} from '@aws-sdk/client-cloudwatch';
import { chunk, type LivenessDatum } from './liveness.js';
import type { MetricSink } from './monitor.js';

/** `PutMetricData` accepts at most 1,000 metric data items (and 1 MB) per request. */
export const MAX_DATUMS_PER_REQUEST = 1000;

export interface CloudWatchMetricSinkOptions {
  readonly client: CloudWatchClient;
  readonly namespace: string;
  /** Items per request; lower it only to test batching. @default 1000 (the API limit) */
  readonly maxDatumsPerRequest?: number;
}

export class CloudWatchMetricSink implements MetricSink {
  private readonly client: CloudWatchClient;
  private readonly namespace: string;
  private readonly batchSize: number;

  constructor(options: CloudWatchMetricSinkOptions) {
    const batchSize = options.maxDatumsPerRequest ?? MAX_DATUMS_PER_REQUEST;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_DATUMS_PER_REQUEST) {
      throw new RangeError(
        `maxDatumsPerRequest must be a whole number from 1 to ${MAX_DATUMS_PER_REQUEST} (got ${batchSize})`,
      );
    }
    this.client = options.client;
    this.namespace = options.namespace;
    this.batchSize = batchSize;
  }

  async put(datums: readonly LivenessDatum[], at: Date): Promise<number> {
    const batches = chunk(
      datums.map((d) => toMetricDatum(d, at)),
      this.batchSize,
    );
    for (const batch of batches) {
      await this.client.send(new PutMetricDataCommand({ Namespace: this.namespace, MetricData: batch }));
    }
    return batches.length;
  }
}

function toMetricDatum(datum: LivenessDatum, at: Date): MetricDatum {
  return {
    MetricName: datum.metricName,
    Dimensions: datum.dimensions.map((d) => ({ Name: d.name, Value: d.value })),
    Value: datum.value,
    Unit: StandardUnit.Count,
    Timestamp: at,
    StorageResolution: 60,
  };
}
