/**
 * The local metrics report: reads Plugboard's metrics back with ListMetrics and GetMetricData (from
 * CloudWatch, or moto's CloudWatch in the local cloud) and renders the dashboard's main panels as one
 * static, self-contained HTML file with inline SVG charts (no scripts, no external resources).
 */
import { writeFile } from 'node:fs/promises';
import {
  type CloudWatchClient,
  type Dimension,
  ListMetricsCommand,
  type ListMetricsCommandOutput,
} from '@aws-sdk/client-cloudwatch';
import { METRIC_NAMES, METRICS_NAMESPACE } from '../lambdas/handlers/metric-names.js';
import type { LivenessThresholds } from './config.js';
import { getMetricData, type MetricRequest } from './metric-data.js';
import {
  DEFAULT_INACTIVE_MINUTES,
  DEFAULT_STUCK_MINUTES,
  DIMENSIONS,
  LIVENESS_METRIC_NAMES,
} from './names.js';
import { PANEL_TITLES } from './panels.js';
import { countActiveRuns, failedRunsInRange, failedRunsTable, type ReportRunSource } from './report-runs.js';
import {
  barChart,
  colorAt,
  escapeHtml,
  formatNumber,
  formatTime,
  type LineSeries,
  lineChart,
  type Point,
} from './svg-chart.js';

export interface MetricsReportOptions {
  readonly cloudwatch: CloudWatchClient;
  /** @default 'Plugboard' */
  readonly namespace?: string;
  readonly deploymentStage: string;
  /** The configured workflows: each gets a line in the liveness, throughput and failure panels. */
  readonly workflows: readonly string[];
  readonly from: Date;
  readonly to: Date;
  /** Seconds per point of the time series (a multiple of 60). @default - 60, or more for long ranges (at most 360 points) */
  readonly periodSeconds?: number;
  /** Quoted in the panel titles. @default 10 and 20 minutes */
  readonly thresholds?: LivenessThresholds;
  /** Shown in the header. @default the time of rendering */
  readonly generatedAt?: Date;
  /** @default 'Plugboard metrics' */
  readonly title?: string;
  /**
   * The status table (e.g. a `DynamoStatusStore`), to count the runs active now and name the runs
   * that failed in the range. Metrics alone cannot: without it the tiles show the liveness function's
   * last check, and the failed runs are counted, not named.
   * @default - none
   */
  readonly runs?: ReportRunSource;
}

/** How many of the slowest plugins the report names. */
const SLOWEST_PLUGINS = 10;

/** One metric as ListMetrics names it. */
interface MetricRef {
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

type Merge = 'sum' | 'max';

/** What one panel line needs: the metrics that feed it (several when an extra dimension splits it). */
interface SeriesSpec {
  readonly key: string;
  readonly label: string;
  readonly refs: readonly MetricRef[];
  readonly stat: string;
  readonly merge: Merge;
  readonly dashed?: boolean;
  /** Multiplies every value (e.g. to turn a per-period sum into a per-minute rate). */
  readonly scale?: number;
  /** Counts: a period without data means no events, so it is drawn as 0 (once the series has data). */
  readonly fillZero?: boolean;
  /** Samples (durations): draw one line through the periods that have data. */
  readonly connect?: boolean;
}

const PERIOD_CHOICES = [60, 300, 900, 3600, 21_600, 86_400];
const MAX_POINTS = 360;

/** Reads the metrics between `from` and `to` and renders the report; returns the HTML. */
export async function renderMetricsReport(options: MetricsReportOptions): Promise<string> {
  const namespace = options.namespace ?? METRICS_NAMESPACE;
  const thresholds = options.thresholds ?? {
    inactiveMinutes: DEFAULT_INACTIVE_MINUTES,
    stuckMinutes: DEFAULT_STUCK_MINUTES,
  };
  const period = choosePeriod(options);
  const from = Math.floor(options.from.getTime() / (period * 1000)) * period * 1000;
  const to = Math.max(
    Math.ceil(options.to.getTime() / (period * 1000)) * period * 1000,
    from + period * 1000,
  );
  const windowSeconds = Math.round((to - from) / 1000);
  const reader = new SeriesReader(options.cloudwatch, namespace, from, to);

  const refs = await listMetrics(options.cloudwatch, namespace, options.deploymentStage);
  const byName = (name: string) => refs.filter((r) => r.metricName === name);
  const forWorkflow = (
    metricName: string,
    workflow: string,
    stat: string,
    merge: Merge,
    extra: { readonly label?: string; readonly dashed?: boolean; readonly scale?: number } = {},
  ): SeriesSpec => ({
    ...(stat === 'Sum' ? { fillZero: true } : {}),
    ...(isPercentile(stat) ? { connect: true } : {}),
    key: `${metricName}:${workflow}:${stat}`,
    label: extra.label ?? workflow,
    refs: byName(metricName).filter(
      (r) => r.dimensions[DIMENSIONS.workflow] === workflow && isLivenessShape(r, metricName),
    ),
    stat,
    merge,
    ...(extra.dashed ? { dashed: true } : {}),
    ...(extra.scale === undefined ? {} : { scale: extra.scale }),
  });
  /** A solid and a dashed line per workflow (e.g. started and completed). */
  const pairs = (make: (workflow: string) => [SeriesSpec, SeriesSpec]) => options.workflows.flatMap(make);
  const grouped = (metricName: string, dims: readonly string[], stat: string, merge: Merge) => {
    const groups = new Map<string, MetricRef[]>();
    for (const ref of byName(metricName)) {
      const values = dims.map((d) => ref.dimensions[d]);
      if (values.some((v) => v === undefined)) continue;
      const key = values.join('/');
      groups.set(key, [...(groups.get(key) ?? []), ref]);
    }
    return [...groups.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([key, group]): SeriesSpec => ({
          key: `${metricName}:${key}:${stat}`,
          label: key,
          refs: group,
          stat,
          merge,
        }),
      );
  };

  // ---- time series panels ------------------------------------------------------------------
  const liveness = (name: string) => options.workflows.map((w) => forWorkflow(name, w, 'Maximum', 'max'));
  const activeSpecs = liveness(LIVENESS_METRIC_NAMES.active);
  const inactiveSpecs = liveness(LIVENESS_METRIC_NAMES.inactive);
  const stuckSpecs = liveness(LIVENESS_METRIC_NAMES.stuck);
  const perMinute = 60 / period;
  const startedSpecs = options.workflows.map((w) =>
    forWorkflow(METRIC_NAMES.runsStarted, w, 'Sum', 'sum', { label: `${w} started`, scale: perMinute }),
  );
  const completedSpecs = options.workflows.map((w) =>
    forWorkflow(METRIC_NAMES.runsCompleted, w, 'Sum', 'sum', {
      label: `${w} completed`,
      scale: perMinute,
      dashed: true,
    }),
  );
  const throughputSpecs = startedSpecs.flatMap((s, i) => [
    s,
    ...(completedSpecs[i] ? [completedSpecs[i]] : []),
  ]);
  const failedSpecs = options.workflows.map((w) =>
    forWorkflow(METRIC_NAMES.runsFailed, w, 'Sum', 'sum', { label: `${w} failed` }),
  );
  const failureSpecs = pairs((w) => [
    forWorkflow(METRIC_NAMES.runsFailed, w, 'Sum', 'sum', { label: `${w} failed` }),
    forWorkflow(METRIC_NAMES.runsCancelled, w, 'Sum', 'sum', { label: `${w} cancelled`, dashed: true }),
  ]);
  const durationSpecs = pairs((w) => [
    forWorkflow(METRIC_NAMES.runDuration, w, 'p50', 'max', { label: `${w} p50` }),
    forWorkflow(METRIC_NAMES.runDuration, w, 'p99', 'max', { label: `${w} p99`, dashed: true }),
  ]);
  const timeSeries = await reader.read(
    [...activeSpecs, ...inactiveSpecs, ...stuckSpecs, ...throughputSpecs, ...failureSpecs, ...durationSpecs],
    period,
  );

  // ---- whole-window panels -----------------------------------------------------------------
  const stageDims = [DIMENSIONS.workflow, DIMENSIONS.activity, DIMENSIONS.stage];
  const pluginDims = [DIMENSIONS.activity, DIMENSIONS.stage, DIMENSIONS.plugin];
  const stageDuration = ['p50', 'p99'].map((stat) =>
    grouped(METRIC_NAMES.stageDuration, stageDims, stat, 'max'),
  );
  const stageOverhead = ['p50', 'p99'].map((stat) =>
    grouped(METRIC_NAMES.stageOverhead, stageDims, stat, 'max'),
  );
  const pluginDuration = ['p99', 'p50'].map((stat) =>
    grouped(METRIC_NAMES.pluginDuration, pluginDims, stat, 'max'),
  );
  const pluginErrors = grouped(METRIC_NAMES.pluginErrors, pluginDims, 'Sum', 'sum');
  const pluginTimeouts = grouped(METRIC_NAMES.pluginTimeouts, pluginDims, 'Sum', 'sum');
  const totals = await reader.read(
    [
      ...stageDuration.flat(),
      ...stageOverhead.flat(),
      ...pluginDuration.flat(),
      ...pluginErrors,
      ...pluginTimeouts,
      ...options.workflows.flatMap((w) => [
        {
          ...forWorkflow(METRIC_NAMES.runsStarted, w, 'Sum', 'sum'),
          key: totalKey(METRIC_NAMES.runsStarted, w),
        },
        {
          ...forWorkflow(METRIC_NAMES.runsFailed, w, 'Sum', 'sum'),
          key: totalKey(METRIC_NAMES.runsFailed, w),
        },
      ]),
    ],
    windowSeconds,
  );

  const lines = (specs: readonly SeriesSpec[]): LineSeries[] =>
    specs.map((spec, i) => ({
      label: spec.label,
      // Paired panels (solid + dashed per workflow) give both lines of a workflow its colour.
      color: colorAt(specs.some((s) => s.dashed) ? Math.floor(i / 2) : i),
      points: spec.fillZero
        ? zeroFilled(timeSeries.values.get(spec.key) ?? [], from, to, period * 1000)
        : (timeSeries.values.get(spec.key) ?? []),
      ...(spec.dashed ? { dashed: true } : {}),
      ...(spec.connect ? { connectGaps: true } : {}),
    }));
  const total = (key: string) => (totals.values.get(key) ?? []).reduce((sum, p) => sum + p.v, 0);
  const hasTotal = (key: string) => (totals.values.get(key) ?? []).length > 0;
  const percentileNote =
    timeSeries.percentileFallback || totals.percentileFallback ? PERCENTILE_NOTE : undefined;

  const lastSum = (specs: readonly SeriesSpec[]) =>
    specs.reduce((sum, spec) => sum + (timeSeries.values.get(spec.key)?.at(-1)?.v ?? 0), 0);
  const lastTime = (specs: readonly SeriesSpec[]) => {
    const times = specs.flatMap((spec) => timeSeries.values.get(spec.key)?.at(-1)?.t ?? []);
    return times.length > 0 ? Math.max(...times) : undefined;
  };
  const rangeSum = (specs: readonly SeriesSpec[]) =>
    specs.reduce(
      (sum, spec) =>
        sum + (timeSeries.values.get(spec.key) ?? []).reduce((s, p) => s + p.v / (spec.scale ?? 1), 0),
      0,
    );
  const failedRuns = options.runs
    ? await failedRunsInRange(options.runs, options.workflows, { from, to })
    : undefined;

  const ctx: PanelContext = { from, to, periodMs: period * 1000 };
  const panels = [
    linePanel('active', PANEL_TITLES.active, lines(activeSpecs), ctx, 'runs'),
    linePanel(
      'inactive',
      PANEL_TITLES.inactive(thresholds.inactiveMinutes),
      lines(inactiveSpecs),
      ctx,
      'runs',
    ),
    linePanel('stuck', PANEL_TITLES.stuck(thresholds.stuckMinutes), lines(stuckSpecs), ctx, 'runs'),
    linePanel('throughput', PANEL_TITLES.throughput, lines(throughputSpecs), ctx, 'runs / min'),
    linePanel(
      'failures',
      PANEL_TITLES.failures,
      lines(failureSpecs),
      ctx,
      'runs',
      failureRateText(options.workflows, total, hasTotal),
    ),
    linePanel('run-duration', PANEL_TITLES.runDuration, lines(durationSpecs), ctx, 'ms', percentileNote),
    barPanel(
      'stage-duration',
      PANEL_TITLES.stageDuration,
      stageDuration,
      ['p50', 'p99'],
      totals.values,
      'ms',
      percentileNote,
    ),
    barPanel(
      'stage-overhead',
      PANEL_TITLES.stageOverhead,
      stageOverhead,
      ['p50', 'p99'],
      totals.values,
      'ms',
      percentileNote,
    ),
    slowestPluginsPanel(pluginDuration, totals.values, percentileNote),
    {
      id: 'failed-runs',
      title: PANEL_TITLES.failedRuns,
      hasData: failedRuns !== undefined && failedRuns.length > 0,
      body:
        failedRuns === undefined
          ? note(
              `${formatNumber(rangeSum(failedSpecs))} failed in range; the report names them when it is given the status table (option runs).`,
            )
          : failedRunsTable(failedRuns, options.deploymentStage),
    },
    barPanel(
      'plugin-errors',
      PANEL_TITLES.pluginErrors,
      [pluginErrors],
      ['errors'],
      totals.values,
      'errors in range',
    ),
    barPanel(
      'plugin-timeouts',
      PANEL_TITLES.pluginTimeouts,
      [pluginTimeouts],
      ['timeouts'],
      totals.values,
      'timeouts in range',
    ),
  ];

  const activeNow = options.runs ? await countActiveRuns(options.runs, options.workflows) : undefined;
  // The liveness counts are those of the function's last check; with the table at hand, none can
  // exceed the runs active now (runs that ended since the check are no longer inactive or stuck).
  const current = (specs: readonly SeriesSpec[]) =>
    activeNow === undefined ? lastSum(specs) : Math.min(activeNow, lastSum(specs));
  const lastCheck = lastTime(activeSpecs);
  const atLastCheck =
    lastCheck === undefined ? 'at last check' : `at last check (${formatTime(lastCheck, false)} UTC)`;
  const tiles: [string, number][] = [
    [activeNow === undefined ? `active ${atLastCheck}` : 'active now', activeNow ?? lastSum(activeSpecs)],
    [activeNow === undefined ? `inactive ${atLastCheck}` : 'inactive now', current(inactiveSpecs)],
    [activeNow === undefined ? `stuck ${atLastCheck}` : 'stuck now', current(stuckSpecs)],
    ['runs started', rangeSum(startedSpecs)],
    ['runs completed', rangeSum(completedSpecs)],
    ['runs failed', rangeSum(failedSpecs)],
  ];

  return page({
    title: options.title ?? 'Plugboard metrics',
    deploymentStage: options.deploymentStage,
    namespace,
    from,
    to,
    period,
    generatedAt: options.generatedAt ?? new Date(),
    tiles,
    panels,
  });
}

/** Renders the report and writes it to `path` (one self-contained HTML file). */
export async function writeMetricsReport(
  path: string,
  options: MetricsReportOptions,
): Promise<{ readonly path: string; readonly bytes: number }> {
  const html = await renderMetricsReport(options);
  await writeFile(path, html, 'utf8');
  return { path, bytes: Buffer.byteLength(html, 'utf8') };
}

const PERCENTILE_NOTE =
  'This CloudWatch endpoint does not compute percentiles (the local emulator): p50 shows the average and p99 the maximum.';

function choosePeriod(options: MetricsReportOptions): number {
  if (options.periodSeconds !== undefined) {
    if (
      !Number.isInteger(options.periodSeconds) ||
      options.periodSeconds < 60 ||
      options.periodSeconds % 60 !== 0
    ) {
      throw new RangeError(`periodSeconds must be a multiple of 60 (got ${options.periodSeconds})`);
    }
    return options.periodSeconds;
  }
  const span = Math.max(0, options.to.getTime() - options.from.getTime()) / 1000;
  return PERIOD_CHOICES.find((p) => span / p <= MAX_POINTS) ?? 86_400;
}

/** The liveness metrics carry exactly deploymentStage and workflow; engine metrics carry more. */
function isLivenessShape(ref: MetricRef, metricName: string): boolean {
  const liveness: readonly string[] = Object.values(LIVENESS_METRIC_NAMES);
  return !liveness.includes(metricName) || Object.keys(ref.dimensions).length === 2;
}

const totalKey = (metricName: string, workflow: string) => `total:${metricName}:${workflow}`;

function failureRateText(
  workflows: readonly string[],
  total: (key: string) => number,
  hasTotal: (key: string) => boolean,
): string | undefined {
  const parts = workflows
    .filter(
      (w) =>
        hasTotal(totalKey(METRIC_NAMES.runsStarted, w)) || hasTotal(totalKey(METRIC_NAMES.runsFailed, w)),
    )
    .map((w) => {
      const started = total(totalKey(METRIC_NAMES.runsStarted, w));
      const failed = total(totalKey(METRIC_NAMES.runsFailed, w));
      const rate = started > 0 ? (100 * failed) / started : failed > 0 ? 100 : 0;
      return `${w}: ${formatNumber(rate)}% (${formatNumber(failed)} failed of ${formatNumber(started)} started)`;
    });
  return parts.length > 0 ? `Failure rate in range — ${parts.join('; ')}` : undefined;
}

async function listMetrics(
  client: CloudWatchClient,
  namespace: string,
  deploymentStage: string,
): Promise<MetricRef[]> {
  const seen = new Map<string, MetricRef>();
  let nextToken: string | undefined;
  do {
    const page: ListMetricsCommandOutput = await client.send(
      new ListMetricsCommand({
        Namespace: namespace,
        Dimensions: [{ Name: DIMENSIONS.deploymentStage, Value: deploymentStage }],
        ...(nextToken ? { NextToken: nextToken } : {}),
      }),
    );
    for (const metric of page.Metrics ?? []) {
      if (!metric.MetricName) continue;
      const dimensions = Object.fromEntries(
        (metric.Dimensions ?? []).flatMap((d: Dimension) =>
          d.Name && d.Value !== undefined ? [[d.Name, d.Value]] : [],
        ),
      );
      if (dimensions[DIMENSIONS.deploymentStage] !== deploymentStage) continue;
      const ref = { metricName: metric.MetricName, dimensions };
      seen.set(refKey(ref), ref);
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return [...seen.values()];
}

function refKey(ref: MetricRef): string {
  const dims = Object.entries(ref.dimensions).sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify([ref.metricName, dims]);
}

/** Fetches series with GetMetricData (metric-data.ts batches them), merging the metrics of one series point by point. */
class SeriesReader {
  constructor(
    private readonly client: CloudWatchClient,
    private readonly namespace: string,
    private readonly from: number,
    private readonly to: number,
  ) {}

  async read(
    specs: readonly SeriesSpec[],
    period: number,
  ): Promise<{ values: Map<string, Point[]>; percentileFallback: boolean }> {
    const queries = specs.flatMap((spec) => spec.refs.map((ref) => ({ spec, ref })));
    const requests = (fallback: boolean): MetricRequest[] =>
      queries.map(({ spec, ref }) => ({
        namespace: this.namespace,
        metricName: ref.metricName,
        dimensions: ref.dimensions,
        stat: fallback ? fallbackStat(spec.stat) : spec.stat,
        periodSeconds: period,
      }));
    const range = { from: new Date(this.from), to: new Date(this.to) };
    let percentileFallback = false;
    let raw: Point[][];
    try {
      raw = await getMetricData(this.client, requests(false), range);
    } catch (error) {
      if (!queries.some(({ spec }) => isPercentile(spec.stat))) throw error;
      // Some endpoints (moto) cannot compute percentiles: use average (for p50) and maximum (for p99).
      raw = await getMetricData(this.client, requests(true), range);
      percentileFallback = true;
    }
    const values = new Map<string, Point[]>();
    queries.forEach(({ spec }, i) => {
      const points = raw[i] ?? [];
      const scaled =
        spec.scale === undefined ? points : points.map((p) => ({ t: p.t, v: p.v * (spec.scale ?? 1) }));
      values.set(spec.key, mergePoints(values.get(spec.key) ?? [], scaled, spec.merge));
    });
    return { values, percentileFallback };
  }
}

const STAGE_ORDER = ['pre', 'parallel', 'post'];

/** Sorts `workflow/activity/stage…` labels by name, but stages in the order they run. */
function byStageOrder(a: string, b: string): number {
  const rank = (label: string) =>
    label
      .split('/')
      .map((part) => (STAGE_ORDER.includes(part) ? `${STAGE_ORDER.indexOf(part)}` : part))
      .join('/');
  return rank(a).localeCompare(rank(b));
}

const isPercentile = (stat: string) => /^p\d+(\.\d+)?$/.test(stat);
const fallbackStat = (stat: string) => (stat === 'p50' ? 'Average' : isPercentile(stat) ? 'Maximum' : stat);

/** Every period of [from, to) with its value, 0 where there is none; an empty series stays empty. */
function zeroFilled(points: readonly Point[], from: number, to: number, periodMs: number): Point[] {
  if (points.length === 0) return [];
  const byTime = new Map(points.map((p) => [p.t, p.v]));
  const filled: Point[] = [];
  for (let t = from; t < to; t += periodMs) filled.push({ t, v: byTime.get(t) ?? 0 });
  // Points off the period grid (another endpoint's alignment) are kept as they are.
  for (const p of points) if ((p.t - from) % periodMs !== 0) filled.push(p);
  return filled.sort((a, b) => a.t - b.t);
}

function mergePoints(a: readonly Point[], b: readonly Point[], merge: Merge): Point[] {
  if (a.length === 0) return [...b];
  const byTime = new Map(a.map((p) => [p.t, p.v]));
  for (const p of b) {
    const existing = byTime.get(p.t);
    byTime.set(
      p.t,
      existing === undefined ? p.v : merge === 'sum' ? existing + p.v : Math.max(existing, p.v),
    );
  }
  return [...byTime.entries()].sort(([x], [y]) => x - y).map(([t, v]) => ({ t, v }));
}

// ---- HTML ------------------------------------------------------------------------------------

interface PanelContext {
  readonly from: number;
  readonly to: number;
  readonly periodMs: number;
}

interface Panel {
  readonly id: string;
  readonly title: string;
  readonly body: string;
  readonly hasData: boolean;
}

function legend(
  items: readonly { label: string; color: string; dashed?: boolean; empty?: boolean }[],
): string {
  const entries = items.map(
    (item) =>
      `<li${item.empty ? ' class="empty"' : ''}><span class="swatch${item.dashed ? ' dashed' : ''}" style="--c:${item.color}"></span>${escapeHtml(item.label)}${item.empty ? ' <em>(no data)</em>' : ''}</li>`,
  );
  return `<ul class="legend">${entries.join('')}</ul>`;
}

function note(text: string | undefined): string {
  return text ? `<p class="note">${escapeHtml(text)}</p>` : '';
}

function linePanel(
  id: string,
  title: string,
  series: readonly LineSeries[],
  ctx: PanelContext,
  unit: string,
  noteText?: string,
): Panel {
  const hasData = series.some((s) => s.points.length > 0);
  // A line needs two points: with one point per line at most, a dot each says little; bars say the value.
  const single = hasData && series.every((s) => s.points.length <= 1);
  if (single) return singlePointPanel(id, title, series, unit, noteText);
  const chart = hasData
    ? lineChart({ series, from: ctx.from, to: ctx.to, periodMs: ctx.periodMs, unit })
    : '<p class="nodata">No data in this time range.</p>';
  const items = series.map((s) => ({
    label: s.label,
    color: s.color,
    ...(s.dashed ? { dashed: true } : {}),
    ...(s.points.length === 0 ? { empty: true } : {}),
  }));
  return { id, title, hasData, body: `${note(noteText)}${chart}${series.length > 0 ? legend(items) : ''}` };
}

/** A line panel whose lines have one point each at most: one bar per line, with the time of its point. */
function singlePointPanel(
  id: string,
  title: string,
  series: readonly LineSeries[],
  unit: string,
  noteText?: string,
): Panel {
  const shown = series.filter((s) => s.points.length === 1);
  const times = [...new Set(shown.map((s) => s.points[0]?.t ?? 0))].sort((a, b) => a - b);
  const when = times.map((t) => `${formatTime(t, false)} UTC`).join(', ');
  const chart = barChart({
    categories: shown.map((s) => s.label),
    groups: [{ label: unit, color: colorAt(0) }],
    values: [shown.map((s) => s.points[0]?.v ?? 0)],
    unit,
  });
  const text = `One data point in this range (${when}): shown as bars.`;
  return { id, title, hasData: true, body: `${note(noteText ? `${noteText} ${text}` : text)}${chart}` };
}

/** The plugins with the highest p99 duration in the range, slowest first, with their p50. */
function slowestPluginsPanel(
  specs: readonly (readonly SeriesSpec[])[],
  values: ReadonlyMap<string, Point[]>,
  noteText?: string,
): Panel {
  const [p99 = [], p50 = []] = specs;
  const highest = (spec: SeriesSpec | undefined) => {
    const points = spec ? values.get(spec.key) : undefined;
    return points && points.length > 0 ? Math.max(...points.map((p) => p.v)) : undefined;
  };
  const ranked = p99
    .map((spec) => ({
      label: spec.label,
      p99: highest(spec),
      p50: highest(p50.find((s) => s.label === spec.label)),
    }))
    .filter((row): row is { label: string; p99: number; p50: number | undefined } => row.p99 !== undefined)
    .sort((a, b) => b.p99 - a.p99 || a.label.localeCompare(b.label))
    .slice(0, SLOWEST_PLUGINS);
  if (ranked.length === 0) {
    return {
      id: 'slowest-plugins',
      title: PANEL_TITLES.slowestPlugins,
      hasData: false,
      body: '<p class="nodata">No data in this time range.</p>',
    };
  }
  const groups = [
    { label: 'p99', color: colorAt(3) },
    { label: 'p50', color: colorAt(0) },
  ];
  const chart = barChart({
    categories: ranked.map((r) => r.label),
    groups,
    values: [ranked.map((r) => r.p99), ranked.map((r) => r.p50)],
    unit: 'ms',
  });
  const slowest = ranked[0];
  const headline = slowest ? `Slowest: ${slowest.label} (p99 ${formatNumber(slowest.p99)} ms).` : '';
  return {
    id: 'slowest-plugins',
    title: PANEL_TITLES.slowestPlugins,
    hasData: true,
    body: `${note(noteText ? `${headline} ${noteText}` : headline)}${chart}${legend(groups)}`,
  };
}

function barPanel(
  id: string,
  title: string,
  groupsOfSpecs: readonly (readonly SeriesSpec[])[],
  groupLabels: readonly string[],
  values: ReadonlyMap<string, Point[]>,
  unit: string,
  noteText?: string,
): Panel {
  const categories = [...new Set(groupsOfSpecs.flatMap((specs) => specs.map((s) => s.label)))].sort(
    byStageOrder,
  );
  const cellValue = (specs: readonly SeriesSpec[], category: string): number | undefined => {
    const spec = specs.find((s) => s.label === category);
    const points = spec ? values.get(spec.key) : undefined;
    if (!points || points.length === 0) return undefined;
    return spec?.merge === 'sum'
      ? points.reduce((sum, p) => sum + p.v, 0)
      : Math.max(...points.map((p) => p.v));
  };
  const matrix = groupsOfSpecs.map((specs) => categories.map((c) => cellValue(specs, c)));
  const hasData = matrix.some((row) => row.some((v) => v !== undefined));
  const groups = groupLabels.map((label, i) => ({ label, color: colorAt(i === 0 ? 0 : 3) }));
  const shown = categories.filter((_, c) => matrix.some((row) => row[c] !== undefined));
  const chart = hasData
    ? barChart({
        categories: shown,
        groups,
        values: matrix.map((row) => row.filter((_, c) => shown.includes(categories[c] ?? ''))),
        unit,
      })
    : '<p class="nodata">No data in this time range.</p>';
  return {
    id,
    title,
    hasData,
    body: `${note(noteText)}${chart}${hasData && groups.length > 1 ? legend(groups) : ''}`,
  };
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;background:#f4f6f8;color:#1f2933;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{padding:20px 32px 8px}
h1{margin:0 0 4px;font-size:22px}
.meta{margin:0;color:#5b6470}
.tiles{display:flex;flex-wrap:wrap;gap:12px;padding:12px 32px}
.tile{background:#fff;border:1px solid #dde2e7;border-radius:8px;padding:10px 16px;min-width:140px}
.tile b{display:block;font-size:24px}
.tile span{color:#5b6470}
.tile.alert b{color:#b42318}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px;padding:8px 32px 32px}
.panel{background:#fff;border:1px solid #dde2e7;border-radius:8px;padding:12px 14px}
.panel h2{margin:0 0 8px;font-size:15px}
.chart{display:block;width:100%;height:auto}
.legend{list-style:none;margin:6px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:4px 14px;color:#3e4752;font-size:12px}
.legend li{display:flex;align-items:center;gap:6px}
.legend .empty{color:#9aa3ad}
.swatch{display:inline-block;width:16px;height:0;border-top:3px solid var(--c)}
.swatch.dashed{border-top-style:dashed}
.note{margin:0 0 6px;color:#8a5a00;font-size:12px}
.nodata{color:#9aa3ad;margin:24px 0;text-align:center}
.runs{border-collapse:collapse;width:100%;font-size:12px}
.runs th,.runs td{border-bottom:1px solid #e3e6ea;padding:4px 6px;text-align:left;vertical-align:top}
.runs code{font-size:11px}
footer{color:#9aa3ad;padding:0 32px 24px;font-size:12px}
`;

function page(input: {
  readonly title: string;
  readonly deploymentStage: string;
  readonly namespace: string;
  readonly from: number;
  readonly to: number;
  readonly period: number;
  readonly generatedAt: Date;
  readonly tiles: readonly [string, number][];
  readonly panels: readonly Panel[];
}): string {
  const range = `${formatTime(input.from, true)} – ${formatTime(input.to, true)} UTC`;
  const periodText = input.period % 3600 === 0 ? `${input.period / 3600} h` : `${input.period / 60} min`;
  const tiles = input.tiles
    .map(
      ([label, value]) =>
        `<div class="tile${label.startsWith('stuck') && value > 0 ? ' alert' : ''}"><b>${formatNumber(value)}</b><span>${escapeHtml(label)}</span></div>`,
    )
    .join('');
  const panels = input.panels
    .map(
      (p) =>
        `<section class="panel" data-panel="${p.id}" data-has-data="${p.hasData}"><h2>${escapeHtml(p.title)}</h2>${p.body}</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(`${input.title} · ${input.deploymentStage}`)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(input.title)} · ${escapeHtml(input.deploymentStage)}</h1>
<p class="meta">${escapeHtml(range)} · one point per ${escapeHtml(periodText)} · namespace ${escapeHtml(input.namespace)} · generated ${escapeHtml(input.generatedAt.toISOString())}</p>
</header>
<section class="tiles">${tiles}</section>
<main>
${panels}
</main>
<footer>Static report rendered from CloudWatch GetMetricData. The same panels are on the CloudWatch dashboard of this deployment.</footer>
</body>
</html>
`;
}
