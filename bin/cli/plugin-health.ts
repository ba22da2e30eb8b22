/**
 * "Last seen" and liveness of registered plugins, read from the metrics the stage orchestrators
 * already emit as EMF (lambdas/handlers/observability.ts), so no run is read and the cost does not
 * grow with the number of runs: four metrics per plugin, all plugins in one GetMetricData batch.
 *
 * What the metrics say, per activity stage and plugin (one point per minute):
 * - `PluginDuration` (SampleCount): attempts that ended for good with a duration: a report
 *   (`Complete`, `Error`) or a timeout;
 * - `PluginErrors`: reports that ended the plugin in `Error`;
 * - `PluginTimeouts`: attempts that ended in `Timed Out` (the plugin did not report);
 * - `PluginRetries`: attempts the engine retried (a retryable error report or a missed deadline).
 * A report is a finished attempt that did not time out: durations minus timeouts (or an error), so a
 * plugin that only times out is never "seen". Attempts the engine retries show as reports when their
 * last attempt ends.
 *
 * Liveness, in the Overseer's terms (ARCHITECTURE.md §7): no report for `inactiveMinutes` = inactive,
 * for `stuckMinutes` = offline, unless nothing was asked of the plugin in that time (idle).
 */
import type { DeploymentRef } from '../../lambdas/contracts/index.js';
import { METRIC_NAMES, METRICS_NAMESPACE } from '../../lambdas/handlers/metric-names.js';
import type { LivenessThresholds } from '../../metrics/config.js';
import {
  getMetricData,
  type MetricDataClient,
  MetricDataError,
  type MetricPoint,
  type MetricRequest,
} from '../../metrics/metric-data.js';
import { DIMENSIONS } from '../../metrics/names.js';

const MINUTE_MS = 60_000;

/** Counts cover the last hour, or the whole window when it is shorter. */
export const COUNT_MINUTES = 60;
/** One-minute data points are kept 15 days: the longest window at minute resolution. */
export const MAX_WINDOW_MINUTES = 15 * 24 * 60;

export type PluginLiveness = 'live' | 'inactive' | 'offline' | 'idle';

/**
 * What each liveness value means, for `--help`. Traffic: another plugin of the stage reported (not
 * counted for a filtered plugin), or this one timed out or was retried.
 */
export function livenessMeaning(thresholds: LivenessThresholds): Record<PluginLiveness, string> {
  const { inactiveMinutes: inactive, stuckMinutes: stuck } = thresholds;
  return {
    live: `reported within the last ${inactive} min`,
    inactive: `last report ${inactive} to ${stuck} min ago`,
    offline: `no report for ${stuck} min while its stage had traffic in that time`,
    idle: `no report for ${stuck} min and no traffic in its stage either: nothing to conclude`,
  };
}

/** A registered plugin whose health is asked for. */
export interface PluginKey {
  readonly activity: string;
  readonly stage: string;
  readonly plugin: string;
  /**
   * Whether it has a filter policy: then the reports of the other plugins of its stage do not count
   * as traffic for it (the stage's runs may not have matched its filter), only its own timeouts and
   * retries do.
   */
  readonly filtered: boolean;
}

/** The per-minute series of one plugin. */
export interface PluginSeries {
  /** `PluginDuration` SampleCount: attempts ended for good (reports and timeouts). */
  readonly finished: readonly MetricPoint[];
  readonly errors: readonly MetricPoint[];
  readonly timeouts: readonly MetricPoint[];
  readonly retries: readonly MetricPoint[];
}

/** The metric and statistic behind each series, in the order of the requests. */
const SERIES: readonly {
  readonly key: keyof PluginSeries;
  readonly metricName: string;
  readonly stat: string;
}[] = [
  { key: 'finished', metricName: METRIC_NAMES.pluginDuration, stat: 'SampleCount' },
  { key: 'errors', metricName: METRIC_NAMES.pluginErrors, stat: 'Sum' },
  { key: 'timeouts', metricName: METRIC_NAMES.pluginTimeouts, stat: 'Sum' },
  { key: 'retries', metricName: METRIC_NAMES.pluginRetries, stat: 'Sum' },
];

export interface PluginHealth {
  /** Start of the minute of the plugin's latest report in the window. */
  readonly lastSeen?: Date;
  readonly liveness: PluginLiveness;
  /** Over the count period (the last hour, or the window when shorter). */
  readonly reports: number;
  readonly errors: number;
  readonly timeouts: number;
}

export interface HealthSettings extends LivenessThresholds {
  /** How far back a report is looked for (minutes, at least `stuckMinutes`). */
  readonly windowMinutes: number;
}

/** Minutes the counts cover: the last hour, or the whole window when it is shorter. */
export const countMinutesOf = (settings: Pick<HealthSettings, 'windowMinutes'>): number =>
  Math.min(COUNT_MINUTES, settings.windowMinutes);

/**
 * The liveness of a plugin at `now`, from when it was last seen and when its stage last had traffic
 * (epoch ms; thresholds inclusive, like the runs' liveness: exactly `inactiveMinutes` is inactive).
 */
export function classifyPlugin(
  input: { readonly lastSeen?: number; readonly lastTraffic?: number },
  now: Date,
  thresholds: LivenessThresholds,
): PluginLiveness {
  const at = now.getTime();
  const stuckMs = thresholds.stuckMinutes * MINUTE_MS;
  if (input.lastSeen !== undefined) {
    const age = at - input.lastSeen;
    if (age < thresholds.inactiveMinutes * MINUTE_MS) return 'live';
    if (age < stuckMs) return 'inactive';
  }
  return input.lastTraffic !== undefined && at - input.lastTraffic < stuckMs ? 'offline' : 'idle';
}

/** The minutes (period starts) in which the plugin reported: finished attempts that were not timeouts. */
export function reportMinutes(series: PluginSeries): number[] {
  const timeouts = valueAt(series.timeouts);
  const minutes = new Set<number>();
  for (const p of series.finished) if (p.v - (timeouts.get(p.t) ?? 0) > 0) minutes.add(p.t);
  for (const p of series.errors) if (p.v > 0) minutes.add(p.t);
  return [...minutes].sort((a, b) => a - b);
}

/**
 * The health of one plugin at `now` from its series and those of the other plugins of its stage.
 * Only points within the window count (the reader asks for no more).
 */
export function summarizePlugin(
  own: PluginSeries,
  others: readonly PluginSeries[],
  filtered: boolean,
  now: Date,
  settings: HealthSettings,
): PluginHealth {
  const at = now.getTime();
  const lastSeen = reportMinutes(own).at(-1);
  const traffic = [
    latest(own.timeouts),
    latest(own.retries),
    ...(filtered ? [] : others.map((series) => reportMinutes(series).at(-1))),
  ].filter((t): t is number => t !== undefined);
  const lastTraffic = traffic.length > 0 ? Math.max(...traffic) : undefined;
  const countFrom = at - countMinutesOf(settings) * MINUTE_MS;
  const inCount = (points: readonly MetricPoint[]) =>
    points.filter((p) => p.t > countFrom).reduce((sum, p) => sum + p.v, 0);
  const timeouts = inCount(own.timeouts);
  const errors = inCount(own.errors);
  return {
    ...(lastSeen === undefined ? {} : { lastSeen: new Date(lastSeen) }),
    liveness: classifyPlugin(
      {
        ...(lastSeen === undefined ? {} : { lastSeen }),
        ...(lastTraffic === undefined ? {} : { lastTraffic }),
      },
      now,
      settings,
    ),
    reports: Math.max(inCount(own.finished) - timeouts, errors, 0),
    errors,
    timeouts,
  };
}

/**
 * The dimensions of a plugin's metrics as a stage orchestrator emits them: its own (activity, stage,
 * plugin), the `deploymentStage` default dimension, and the `service` dimension Powertools adds, whose
 * value is POWERTOOLS_SERVICE_NAME, which the constructs set to the system name
 * (lib/orchestrator-environment.ts). CloudWatch matches the whole dimension set.
 */
export function pluginMetricDimensions(ref: DeploymentRef, key: PluginKey): Record<string, string> {
  return {
    [DIMENSIONS.deploymentStage]: ref.stage,
    [DIMENSIONS.service]: ref.systemName,
    [DIMENSIONS.activity]: key.activity,
    [DIMENSIONS.stage]: key.stage,
    [DIMENSIONS.plugin]: key.plugin,
  };
}

/** The four metrics of a plugin, at minute resolution. */
export function pluginMetricRequests(ref: DeploymentRef, key: PluginKey): MetricRequest[] {
  const dimensions = pluginMetricDimensions(ref, key);
  return SERIES.map(({ metricName, stat }) => ({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensions,
    stat,
    periodSeconds: 60,
  }));
}

/** The minutes a window of `windowMinutes` covers at `now`: the current minute and the ones before. */
export function windowRange(now: Date, windowMinutes: number): { from: Date; to: Date } {
  const minute = Math.floor(now.getTime() / MINUTE_MS) * MINUTE_MS;
  return { from: new Date(minute - (windowMinutes - 1) * MINUTE_MS), to: new Date(minute + MINUTE_MS) };
}

/** Reads the metrics of every plugin in one GetMetricData batch; the health of `plugins[i]` is `[i]`. */
export async function readPluginHealth(
  client: MetricDataClient,
  ref: DeploymentRef,
  plugins: readonly PluginKey[],
  now: Date,
  settings: HealthSettings,
): Promise<PluginHealth[]> {
  if (plugins.length === 0) return [];
  const points = await getMetricData(
    client,
    plugins.flatMap((key) => pluginMetricRequests(ref, key)),
    windowRange(now, settings.windowMinutes),
  );
  const series = plugins.map((_, i): PluginSeries => {
    const at = (j: number) => points[i * SERIES.length + j] ?? [];
    return { finished: at(0), errors: at(1), timeouts: at(2), retries: at(3) };
  });
  const stageOf = (key: PluginKey) => `${key.activity}\u0000${key.stage}`;
  return plugins.map((key, i) => {
    const others = plugins.flatMap((other, j) =>
      j !== i && stageOf(other) === stageOf(key) ? [series[j] ?? EMPTY] : [],
    );
    return summarizePlugin(series[i] ?? EMPTY, others, key.filtered, now, settings);
  });
}

const EMPTY: PluginSeries = { finished: [], errors: [], timeouts: [], retries: [] };

/** `<1m ago`, `3m ago`, `1h 40m ago`, `2d 03h ago`. */
export function formatAgo(since: Date, now: Date): string {
  const minutes = Math.floor(Math.max(0, now.getTime() - since.getTime()) / MINUTE_MS);
  if (minutes < 1) return '<1m ago';
  if (minutes < 60) return `${minutes}m ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${String(minutes % 60).padStart(2, '0')}m ago`;
  return `${Math.floor(hours / 24)}d ${String(hours % 24).padStart(2, '0')}h ago`;
}

/** Whether an error means the caller may not read metrics (IAM), rather than that reading failed. */
export function isAccessDenied(error: unknown): boolean {
  if (error instanceof MetricDataError) return error.statusCode === 'Forbidden';
  if (!(error instanceof Error)) return false;
  const { Code, $metadata } = error as { Code?: unknown; $metadata?: { httpStatusCode?: number } };
  const names = [error.name, typeof Code === 'string' ? Code : ''];
  return (
    names.some((n) => /AccessDenied|NotAuthorized|Unauthorized|Forbidden/i.test(n)) ||
    $metadata?.httpStatusCode === 403
  );
}

/** What to tell the operator when the metrics could not be read (the registry is still printed). */
export function metricsProblem(error: unknown): string {
  const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return isAccessDenied(error)
    ? `last seen and liveness unknown: reading CloudWatch metrics was denied (${what}). Grant cloudwatch:GetMetricData to show them.`
    : `last seen and liveness unknown: CloudWatch metrics could not be read (${what}).`;
}

function latest(points: readonly MetricPoint[]): number | undefined {
  let last: number | undefined;
  for (const p of points) if (p.v > 0 && (last === undefined || p.t > last)) last = p.t;
  return last;
}

function valueAt(points: readonly MetricPoint[]): Map<number, number> {
  return new Map(points.map((p) => [p.t, p.v]));
}
