/**
 * What a deployment pays beside the measured per-run lines: X-Ray (when tracing is Active), idle long
 * polls of every event source, custom metrics, and KMS (the topics' key and the data-key calls of the
 * table and the topics). Per month at a given volume, from measured per-run quantities, the deployed
 * shape and list prices. A model: the assumptions are named where they are used. Pure.
 */
import { PRICES, type Prices } from './prices.js';

/** Hours AWS bills in a month (730 = 8,760 / 12). */
export const HOURS_PER_MONTH = 730;
export const SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600;

/** Lambda's SQS event source polls an idle queue with this many long polls at a time (assumption: its documented starting poller count). */
export const IDLE_POLLERS_PER_EVENT_SOURCE = 5;
/** Lambda's pollers long-poll for up to 20 s (the SQS maximum `WaitTimeSeconds`). */
export const LONG_POLL_SECONDS = 20;
/** Lambda's default X-Ray sampling when no upstream decided: 1 request a second, then 5 % (per function: assumption). */
export const XRAY_RESERVOIR_PER_SECOND = 1;
export const XRAY_FIXED_RATE = 0.05;
/** Segments Lambda records per traced invocation (the service's and the function's); the handlers add no SDK subsegments. */
export const XRAY_SEGMENTS_PER_INVOCATION = 2;
/** Assumption: each recorded trace is retrieved or scanned once (service map, console, queries). */
export const XRAY_RETRIEVALS_PER_TRACE = 1;
/**
 * How long a service reuses a data key, or DynamoDB a decrypted table key, per caller before calling
 * KMS again: DynamoDB documents 5 minutes; SQS's default data-key reuse period is 300 s; SNS documents
 * none, so the same 300 s is assumed.
 */
export const KMS_KEY_REUSE_SECONDS = 300;

export type TracingMode = 'Active' | 'PassThrough';

export interface FunctionLoad {
  readonly name: string;
  /** Invocations per run (measured), or per month when `fixedPerMonth` is set. */
  readonly perRun: number;
  /** Invocations a month whatever the volume (e.g. a schedule). */
  readonly fixedPerMonth?: number;
  /** Mean duration of one invocation, ms (for concurrent environments). */
  readonly meanMs: number;
  /** Whether it calls the status table (KMS Decrypt of the table key). */
  readonly readsTable: boolean;
  /** Whether it publishes to a KMS-encrypted topic (KMS GenerateDataKey). */
  readonly publishesToTopics: boolean;
  /** Whether it is one of the orchestrator functions (traced when tracing is Active). */
  readonly orchestrator: boolean;
}

export interface AllInInputs {
  /** Measured per-run lines: the headline. */
  readonly usdPerMillionRuns: number;
  readonly functions: readonly FunctionLoad[];
  /** SQS event source mappings of the deployment (stage inboxes + start queue). */
  readonly eventSources: number;
  /** Distinct custom metrics (name + dimension values) the handlers emit. */
  readonly customMetrics: number;
  /** KMS customer managed keys of the deployment. */
  readonly customerManagedKeys: number;
  /** Topics encrypted with the customer managed key (SNS decrypts per topic to deliver). */
  readonly encryptedTopics: number;
}

export interface AllInLine {
  readonly item: string;
  readonly usdPerMonth: number;
  readonly quantity: number;
  readonly unit: string;
  readonly note: string;
}

export interface AllInVolume {
  readonly runsPerMonth: number;
  readonly tracing: TracingMode;
  readonly perRunUsd: number;
  readonly lines: readonly AllInLine[];
  readonly totalUsdPerMonth: number;
  /** `totalUsdPerMonth` ÷ runs × 1e6. */
  readonly allInUsdPerMillionRuns: number;
}

/** Traces recorded a month for `n` invocations spread evenly: the reservoir, then the fixed rate. */
export function sampledTraces(n: number): number {
  const reservoir = XRAY_RESERVOIR_PER_SECOND * SECONDS_PER_MONTH;
  return Math.min(n, reservoir) + XRAY_FIXED_RATE * Math.max(0, n - reservoir);
}

/** Execution environments a function keeps busy (Little's law), at least one while it is invoked. */
export function environments(invocationsPerMonth: number, meanMs: number): number {
  if (invocationsPerMonth <= 0) return 0;
  return Math.max(1, Math.ceil((invocationsPerMonth / SECONDS_PER_MONTH) * (meanMs / 1000)));
}

export function allInCost(
  inputs: AllInInputs,
  runsPerMonth: number,
  tracing: TracingMode,
  prices: Prices = PRICES,
): AllInVolume {
  if (!(runsPerMonth > 0)) throw new RangeError(`runsPerMonth must be positive (got ${runsPerMonth})`);
  const perMonth = (f: FunctionLoad) => f.fixedPerMonth ?? f.perRun * runsPerMonth;
  const perRunUsd = (inputs.usdPerMillionRuns / 1e6) * runsPerMonth;

  const traced = tracing === 'Active' ? inputs.functions.filter((f) => f.orchestrator) : [];
  const traces = traced.reduce((sum, f) => sum + sampledTraces(perMonth(f)), 0);
  const segments = traces * XRAY_SEGMENTS_PER_INVOCATION;
  const xrayUsd =
    traces * prices.xrayTraceRecorded.usd +
    traces * XRAY_RETRIEVALS_PER_TRACE * prices.xrayTraceRetrieved.usd;

  const idlePolls =
    inputs.eventSources * IDLE_POLLERS_PER_EVENT_SOURCE * (SECONDS_PER_MONTH / LONG_POLL_SECONDS);

  const periods = SECONDS_PER_MONTH / KMS_KEY_REUSE_SECONDS;
  const tableEnvs = inputs.functions
    .filter((f) => f.readsTable)
    .reduce((sum, f) => sum + environments(perMonth(f), f.meanMs), 0);
  const publishEnvs = inputs.functions
    .filter((f) => f.publishesToTopics)
    .reduce((sum, f) => sum + environments(perMonth(f), f.meanMs), 0);
  const kmsRequests = periods * (tableEnvs + publishEnvs + inputs.encryptedTopics);

  const lines: AllInLine[] = [
    {
      item: `X-Ray (${tracing})`,
      usdPerMonth: xrayUsd,
      quantity: traces,
      unit: 'traces recorded',
      note:
        tracing === 'Active'
          ? `one trace per orchestrator invocation (SQS-triggered invocations start their own), sampled 1/s + ${XRAY_FIXED_RATE * 100} % per function; ${XRAY_SEGMENTS_PER_INVOCATION} segments each (${Math.round(segments).toLocaleString('en-US')} a month); each retrieved once`
          : 'PassThrough records only requests an upstream caller sampled: none in this workflow',
    },
    {
      item: 'SQS idle long polls',
      usdPerMonth: idlePolls * prices.sqsRequest.usd,
      quantity: idlePolls,
      unit: 'receives',
      note: `${inputs.eventSources} event sources × ${IDLE_POLLERS_PER_EVENT_SOURCE} pollers × one ${LONG_POLL_SECONDS} s long poll at a time; an upper bound (busy pollers' receives are in the per-run lines)`,
    },
    {
      item: 'CloudWatch custom metrics',
      usdPerMonth: inputs.customMetrics * prices.cloudwatchMetric.usd,
      quantity: inputs.customMetrics,
      unit: 'metrics',
      note: 'distinct EMF metric name + dimension values the handlers emitted in the measured runs',
    },
    {
      item: 'KMS customer managed key',
      usdPerMonth: inputs.customerManagedKeys * prices.kmsKey.usd,
      quantity: inputs.customerManagedKeys,
      unit: 'keys',
      note: 'the topics’ key; the table uses the AWS managed key and the inboxes SSE-SQS (no key fee)',
    },
    {
      item: 'KMS data-key requests',
      usdPerMonth: kmsRequests * prices.kmsRequest.usd,
      quantity: kmsRequests,
      unit: 'requests',
      note: `one call per ${KMS_KEY_REUSE_SECONDS / 60} min per execution environment that uses the table (${tableEnvs}) or publishes to a topic (${publishEnvs}), and per encrypted topic delivering (${inputs.encryptedTopics})`,
    },
  ];
  const fixed = lines.reduce((sum, l) => sum + l.usdPerMonth, 0);
  const totalUsdPerMonth = perRunUsd + fixed;
  return {
    runsPerMonth,
    tracing,
    perRunUsd,
    lines,
    totalUsdPerMonth,
    allInUsdPerMillionRuns: (totalUsdPerMonth / runsPerMonth) * 1e6,
  };
}

export const ALL_IN_VOLUMES = [1e6, 1e7, 1e8] as const;
