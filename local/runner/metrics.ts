/**
 * CloudWatch Embedded Metric Format from function logs. On AWS, CloudWatch Logs extracts metrics from
 * EMF lines; locally the runner recognises the lines (JSON with `_aws.CloudWatchMetrics`), keeps them
 * for inspection and, when forwarding is on, puts the metrics into moto's CloudWatch with
 * PutMetricData so dashboards, GetMetricData and tests see them.
 */
import {
  type CloudWatchClient,
  type MetricDatum,
  PutMetricDataCommand,
  StandardUnit,
} from '@aws-sdk/client-cloudwatch';
import { z } from 'zod';
import { messageOf } from '../errors.js';

const directiveSchema = z.object({
  Namespace: z.string().min(1),
  Dimensions: z.array(z.array(z.string())).optional(),
  Metrics: z.array(
    z.object({
      Name: z.string().min(1),
      Unit: z.string().optional(),
      StorageResolution: z.number().optional(),
    }),
  ),
});

const emfSchema = z.looseObject({
  _aws: z.looseObject({
    Timestamp: z.number(),
    CloudWatchMetrics: z.array(directiveSchema),
  }),
});

export type EmfDocument = z.infer<typeof emfSchema>;

/** Parses a log line as an EMF document, or returns undefined when it is not one. */
export function parseEmf(line: string): EmfDocument | undefined {
  const text = line.trim();
  if (!text.startsWith('{') || !text.includes('"_aws"')) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = emfSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

const UNITS: ReadonlySet<string> = new Set(Object.values(StandardUnit));

function isStandardUnit(unit: string | undefined): unit is StandardUnit {
  return unit !== undefined && UNITS.has(unit);
}

/** The PutMetricData requests (namespace + data) an EMF document stands for. */
export function metricDataOf(document: EmfDocument): { namespace: string; data: MetricDatum[] }[] {
  const timestamp = new Date(document._aws.Timestamp);
  const requests: { namespace: string; data: MetricDatum[] }[] = [];
  for (const directive of document._aws.CloudWatchMetrics) {
    const data: MetricDatum[] = [];
    const dimensionSets =
      directive.Dimensions === undefined || directive.Dimensions.length === 0 ? [[]] : directive.Dimensions;
    for (const metric of directive.Metrics) {
      const raw = document[metric.Name];
      const values = (Array.isArray(raw) ? raw : [raw]).filter(
        (value): value is number => typeof value === 'number',
      );
      if (values.length === 0) continue;
      for (const names of dimensionSets) {
        const dimensions = names.map((name) => ({ Name: name, Value: String(document[name] ?? '') }));
        data.push({
          MetricName: metric.Name,
          Dimensions: dimensions,
          Timestamp: timestamp,
          ...(isStandardUnit(metric.Unit) ? { Unit: metric.Unit } : {}),
          ...(metric.StorageResolution !== undefined ? { StorageResolution: metric.StorageResolution } : {}),
          ...(values.length === 1 ? { Value: values[0] } : { Values: values }),
        });
      }
    }
    if (data.length > 0) requests.push({ namespace: directive.Namespace, data });
  }
  return requests;
}

/** How long forwarded metrics gather before one PutMetricData per namespace (CloudWatch Logs is slower). */
const FORWARD_DELAY_MS = 250;
/** PutMetricData takes at most 1000 data per request. */
const DATA_PER_REQUEST = 1000;

/**
 * Keeps recent EMF documents and optionally forwards them to CloudWatch. Forwarded data gather for a
 * moment and go out as one PutMetricData per namespace (up to 1000 data each), instead of one request
 * per log line: the extraction from logs is asynchronous on AWS too, and fewer requests leave moto to
 * the functions.
 */
export class MetricsCollector {
  private readonly documents: { functionName: string; document: EmfDocument }[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly pending = new Map<string, { data: MetricDatum[]; functions: Set<string> }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      readonly cloudwatch: CloudWatchClient | undefined;
      readonly keep: number;
      readonly warn: (message: string) => void;
      /** @default 250 */
      readonly forwardDelayMs?: number;
    },
  ) {}

  /** Returns true when the line was an EMF document. */
  accept(functionName: string, line: string): boolean {
    const document = parseEmf(line);
    if (document === undefined) return false;
    this.documents.push({ functionName, document });
    if (this.documents.length > this.options.keep)
      this.documents.splice(0, this.documents.length - this.options.keep);
    if (this.options.cloudwatch !== undefined) {
      for (const { namespace, data } of metricDataOf(document)) {
        const entry = this.pending.get(namespace) ?? { data: [], functions: new Set<string>() };
        entry.data.push(...data);
        entry.functions.add(functionName);
        this.pending.set(namespace, entry);
      }
      this.timer ??= setTimeout(() => this.send(), this.options.forwardDelayMs ?? FORWARD_DELAY_MS);
    }
    return true;
  }

  /** Puts what has gathered: one PutMetricData per namespace and 1000 data. */
  private send(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const cloudwatch = this.options.cloudwatch;
    if (cloudwatch === undefined) return;
    for (const [namespace, { data, functions }] of this.pending) {
      for (let start = 0; start < data.length; start += DATA_PER_REQUEST) {
        const sending = cloudwatch
          .send(
            new PutMetricDataCommand({
              Namespace: namespace,
              MetricData: data.slice(start, start + DATA_PER_REQUEST),
            }),
          )
          .then(
            () => {},
            (error: unknown) =>
              this.options.warn(
                `could not forward EMF metrics of ${[...functions].join(', ')} to CloudWatch: ${messageOf(error)}`,
              ),
          );
        this.inFlight.add(sending);
        void sending.finally(() => this.inFlight.delete(sending));
      }
    }
    this.pending.clear();
  }

  /** EMF documents seen so far (most recent last), optionally of one function. */
  recent(functionName?: string): EmfDocument[] {
    return this.documents
      .filter((entry) => functionName === undefined || entry.functionName === functionName)
      .map((entry) => entry.document);
  }

  /** Puts what is still gathering, then waits until every forwarded metric has been put. */
  async flush(): Promise<void> {
    this.send();
    await Promise.all([...this.inFlight]);
  }
}
