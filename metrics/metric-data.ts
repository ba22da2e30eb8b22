/**
 * CloudWatch `GetMetricData` for many metrics at once. The metrics go out in requests of at most 500
 * queries (the API's limit), every page of a request is read (the SDK's `paginateGetMetricData`), and
 * the points come back per metric in the order asked, oldest first. One request per 500 metrics, never
 * one per metric.
 */
import {
  type CloudWatchClient,
  type MetricDataQuery,
  paginateGetMetricData,
} from '@aws-sdk/client-cloudwatch';
import { chunk } from './liveness.js';

/** GetMetricData accepts at most 500 queries per request. */
export const MAX_QUERIES_PER_REQUEST = 500;

/**
 * The CloudWatch client the reader sends through. The SDK's paginator takes a real `CloudWatchClient`
 * only; tests give it one whose middleware answers instead of the network.
 */
export type MetricDataClient = CloudWatchClient;

/** One metric and how to aggregate it per period. */
export interface MetricRequest {
  readonly namespace: string;
  readonly metricName: string;
  /** Every dimension of the metric: CloudWatch matches the whole set, not a subset. */
  readonly dimensions: Readonly<Record<string, string>>;
  /** `Sum`, `SampleCount`, `Maximum`… */
  readonly stat: string;
  /** Seconds per point (60 = minute resolution). */
  readonly periodSeconds: number;
}

/** A point: the start of its period (epoch ms) and the statistic's value. */
export interface MetricPoint {
  readonly t: number;
  readonly v: number;
}

/** CloudWatch answered, but not with the data asked for (a query was forbidden or failed). */
export class MetricDataError extends Error {
  constructor(
    message: string,
    /** `Forbidden` or `InternalError`: the status CloudWatch gave the failed query. */
    readonly statusCode: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * The points of every metric between `from` (inclusive) and `to` (exclusive), `result[i]` for
 * `metrics[i]`. An SDK error (access denied, throttling after retries…) is thrown as it is.
 */
export async function getMetricData(
  client: MetricDataClient,
  metrics: readonly MetricRequest[],
  range: { readonly from: Date; readonly to: Date },
): Promise<MetricPoint[][]> {
  const points: MetricPoint[][] = metrics.map(() => []);
  const indexed = metrics.map((metric, index) => ({ metric, index }));
  for (const batch of chunk(indexed, MAX_QUERIES_PER_REQUEST)) {
    const queries: MetricDataQuery[] = batch.map(({ metric, index }) => ({
      Id: queryId(index),
      ReturnData: true,
      MetricStat: {
        Metric: {
          Namespace: metric.namespace,
          MetricName: metric.metricName,
          Dimensions: Object.entries(metric.dimensions).map(([Name, Value]) => ({ Name, Value })),
        },
        Period: metric.periodSeconds,
        Stat: metric.stat,
      },
    }));
    const pages = paginateGetMetricData(
      { client },
      {
        StartTime: range.from,
        EndTime: range.to,
        ScanBy: 'TimestampAscending',
        MetricDataQueries: queries,
      },
    );
    for await (const page of pages) {
      for (const result of page.MetricDataResults ?? []) {
        const index = indexOf(result.Id);
        const target = index === undefined ? undefined : points[index];
        if (target === undefined) continue;
        if (result.StatusCode === 'Forbidden' || result.StatusCode === 'InternalError') {
          const detail = (result.Messages ?? [])
            .map((m) => m.Value)
            .filter(Boolean)
            .join('; ');
          throw new MetricDataError(
            `GetMetricData: ${result.StatusCode} for ${metrics[index ?? 0]?.metricName ?? result.Id}${detail ? ` (${detail})` : ''}`,
            result.StatusCode,
          );
        }
        const timestamps = result.Timestamps ?? [];
        (result.Values ?? []).forEach((v, i) => {
          const t = timestamps[i]?.getTime();
          if (t !== undefined && Number.isFinite(v)) target.push({ t, v });
        });
      }
    }
  }
  for (const series of points) series.sort((a, b) => a.t - b.t);
  return points;
}

/** Query ids must start with a lower-case letter and be unique within a request. */
const queryId = (index: number) => `m${index}`;

function indexOf(id: string | undefined): number | undefined {
  const match = id === undefined ? null : /^m(\d+)$/.exec(id);
  return match ? Number(match[1]) : undefined;
}
