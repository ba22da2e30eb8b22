/**
 * The benchmark's core: runs the scenarios of one mode on a moto endpoint and returns every number
 * the report shows, plus sanity checks on the counters (never on timings).
 */
import { STAGE_NAMES } from '../lambdas/contracts/index.js';
import { ACTIVITIES } from '../test/support/reference.js';
import { type Comparison, type CostModel, comparisons, costModel, stepFunctionsTransitions } from './cost.js';
import { deployedTracingMode, stageInboxBatching } from './deployment.js';
import type { Counts, Meter } from './meter.js';
import {
  type AllInReport,
  allInReport,
  functionLoads,
  type Headline,
  type LatencyReport,
  latencyReport,
} from './models.js';
import {
  meterReferenceRuns,
  referencePluginNames,
  timeReferenceRuns,
  type WideStage,
  wideStage,
} from './scenarios.js';

export type Mode = 'quick' | 'full';

export interface ModePlan {
  readonly costRuns: number;
  readonly inProgressRuns: number;
  readonly durationRuns: number;
  readonly timedRuns: number;
  readonly concurrency: number;
  readonly widths: readonly number[];
}

export const PLANS: Record<Mode, ModePlan> = {
  quick: { costRuns: 2, inProgressRuns: 1, durationRuns: 2, timedRuns: 0, concurrency: 10, widths: [100] },
  // 125 timed runs give the 1,000 stage transitions asked for (8 each): about 7 minutes against moto
  // on a quiet 2-vCPU machine; `--timed-runs <n>` for fewer.
  full: {
    costRuns: 3,
    inProgressRuns: 2,
    durationRuns: 5,
    timedRuns: 125,
    concurrency: 5,
    widths: [100, 500, 1000],
  },
};

export interface Percentiles {
  readonly samples: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
  return {
    samples: sorted.length,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[sorted.length - 1] ?? 0,
  };
}

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface PerRun {
  readonly dispatchPublishes: number;
  readonly eventPublishes: number;
  readonly pluginReports: number;
  readonly engineSends: number;
  readonly pollReceives: number;
  readonly pollDeletes: number;
  readonly dynamoRequests: Record<string, number>;
  readonly writeUnits: number;
  readonly indexWriteUnits: number;
  readonly readUnits: number;
  readonly failedConditionalWrites: number;
  readonly largestItemBytes: number;
  readonly startInvocations: number;
  readonly stageInvocations: number;
  readonly emfBytes: number;
  readonly logBytes: number;
  readonly byMethod: Counts['dynamo']['byMethod'];
}

export function perRun(counts: Counts, runs: number): PerRun {
  const d = (n: number) => n / runs;
  const requests: Record<string, number> = {};
  for (const [k, v] of Object.entries(counts.dynamo.requests)) requests[k] = d(v);
  const byMethod: Counts['dynamo']['byMethod'] = {};
  for (const [k, v] of Object.entries(counts.dynamo.byMethod)) {
    byMethod[k] = { requests: d(v.requests), writeUnits: d(v.writeUnits), readUnits: d(v.readUnits) };
  }
  return {
    dispatchPublishes: d(counts.snsPublish.requests),
    eventPublishes: d(counts.snsEvents.requests),
    pluginReports: d(counts.sqs.pluginReport.requests),
    engineSends: d(counts.sqs.engineSend.requests),
    pollReceives: d(counts.sqs.pollReceive.requests),
    pollDeletes: d(counts.sqs.pollDelete.requests),
    dynamoRequests: requests,
    writeUnits: d(counts.dynamo.tableWriteUnits + counts.dynamo.indexWriteUnits),
    indexWriteUnits: d(counts.dynamo.indexWriteUnits),
    readUnits: d(counts.dynamo.readUnits),
    failedConditionalWrites: d(counts.dynamo.failedConditionalWrites),
    largestItemBytes: counts.dynamo.largestItemBytes,
    startInvocations: d(counts.lambda.start.invocations),
    stageInvocations: d(counts.lambda.stage.invocations),
    emfBytes: d(counts.logs.emfBytes),
    logBytes: d(counts.logs.logBytes),
    byMethod,
  };
}

export interface WideResult {
  readonly width: number;
  readonly completed: boolean;
  readonly dispatchPublishes: number;
  /** Write units from the run's start to the stage's dispatch (run start and empty pre stage included). */
  readonly dispatchWriteUnits: number;
  /** Dispatch phase and reports together, per plugin. */
  readonly writeUnitsPerPlugin: number;
  readonly writeUnitsPerReport: number;
  readonly readUnitsPerReport: number;
  readonly transactions: number;
  readonly reportPhaseMs: number;
}

export interface BenchResult {
  readonly mode: Mode;
  readonly plan: ModePlan;
  readonly headline: Headline;
  /** A model of a deployed run's orchestration latency (not a measurement). */
  readonly latency: LatencyReport;
  /** What a deployment pays a month beside the per-run lines, at several volumes (a model). */
  readonly allIn: AllInReport;
  /** The tracing mode the constructs deploy (bench/deployment.ts). */
  readonly deployedTracing: string;
  readonly reference: { readonly runs: number; readonly perRun: PerRun; readonly cost: CostModel };
  readonly withInProgress: { readonly runs: number; readonly perRun: PerRun; readonly cost: CostModel };
  readonly inProgressDeltaUsdPerMillionRuns: number;
  /** Report-path write units: the final-outcome transactions of the reference run, per report. */
  readonly reportPathWriteUnitsPerReport: number;
  readonly comparisons: readonly Comparison[];
  readonly lambdaDurationMs: { readonly start: Percentiles; readonly stage: Percentiles };
  readonly timing?: {
    readonly runs: number;
    readonly concurrency: number;
    readonly elapsedMs: number;
    readonly runsPerSecond: number;
    readonly stageOverheadMs: Percentiles;
    readonly allComplete: boolean;
  };
  readonly wide: readonly WideResult[];
  readonly checks: readonly Check[];
}

export interface RunOptions {
  /** Progress messages. */
  readonly log?: (message: string) => void;
  /** Called with each new meter (the caller routes captured log lines to it). */
  readonly onMeter?: (meter: Meter) => void;
  /** Overrides of the mode's plan (tests keep the quick run small). */
  readonly plan?: Partial<ModePlan>;
  /**
   * A second moto endpoint: the width scenarios then run on it while the timed runs run on the
   * first (both after the metered runs, whose log lines must not mix with others).
   */
  readonly wideEndpoint?: string;
}

export async function runBench(endpoint: string, mode: Mode, options: RunOptions = {}): Promise<BenchResult> {
  const plan = { ...PLANS[mode], ...options.plan };
  const log = options.log ?? (() => undefined);
  const onLine = options.onMeter;
  const reports = referencePluginNames().length;

  log(`reference runs, metered with item images (${plan.costRuns})`);
  const metered = await meterReferenceRuns(endpoint, {
    runs: plan.costRuns,
    inProgressReports: false,
    ...(onLine ? { onLine } : {}),
  });
  log(`reference runs with In Progress reports (${plan.inProgressRuns})`);
  const meteredIp = await meterReferenceRuns(endpoint, {
    runs: plan.inProgressRuns,
    inProgressReports: true,
    ...(onLine ? { onLine } : {}),
  });
  log(`reference runs for Lambda durations and the critical path, no image reads (${plan.durationRuns})`);
  const durations = await meterReferenceRuns(endpoint, {
    runs: plan.durationRuns,
    inProgressReports: false,
    images: false,
    traceInvocations: true,
    ...(onLine ? { onLine } : {}),
  });
  const timingSource = { counts: durations.counts, runs: durations.runs };
  const cost = costModel(metered.counts, metered.runs, { timing: timingSource });
  const costIp = costModel(meteredIp.counts, meteredIp.runs, { timing: timingSource });
  const reference = { runs: metered.runs, perRun: perRun(metered.counts, metered.runs), cost };
  const withInProgress = {
    runs: meteredIp.runs,
    perRun: perRun(meteredIp.counts, meteredIp.runs),
    cost: costIp,
  };
  const finalOutcomes = reference.perRun.byMethod['store.recordFinalOutcomes']?.writeUnits ?? 0;

  const timed = async (): Promise<BenchResult['timing']> => {
    if (plan.timedRuns <= 0) return undefined;
    log(`timed reference runs (${plan.timedRuns}, ${plan.concurrency} at a time)`);
    const t = await timeReferenceRuns(endpoint, {
      runs: plan.timedRuns,
      concurrency: plan.concurrency,
      wavesPerTable: 2,
      progress: log,
      ...(onLine ? { onLine } : {}),
    });
    return {
      runs: t.runs,
      concurrency: t.concurrency,
      elapsedMs: t.elapsedMs,
      runsPerSecond: t.runs / (t.elapsedMs / 1000),
      stageOverheadMs: percentiles(t.overheadsMs),
      allComplete: t.states.length === t.runs && t.states.every((s) => s === 'Complete'),
    };
  };
  const widths = async (): Promise<WideResult[]> => {
    const results: WideResult[] = [];
    for (const width of plan.widths) {
      log(`one parallel stage of ${width} plugins`);
      const w: WideStage = await wideStage(options.wideEndpoint ?? endpoint, width);
      log(`width ${width} done: ${w.writeUnitsPerReport.toFixed(2)} WCU per report`);
      results.push({
        width,
        completed: w.completed,
        dispatchPublishes: w.dispatchPublishes,
        dispatchWriteUnits: w.dispatchWriteUnits,
        writeUnitsPerPlugin: w.dispatchWriteUnits / width + w.writeUnitsPerReport,
        writeUnitsPerReport: w.writeUnitsPerReport,
        readUnitsPerReport: w.readUnitsPerReport,
        transactions: w.reportCounts.dynamo.requests.TransactWriteItems ?? 0,
        reportPhaseMs: w.reportPhaseMs,
      });
    }
    return results;
  };
  const [timing, wide] = options.wideEndpoint
    ? await Promise.all([timed(), widths()])
    : [await timed(), await widths()];

  const shape = { activities: ACTIVITIES.length, pre: 1, parallel: 5, post: 1 };
  const latency = latencyReport(
    durations.invocationsByRun,
    stageInboxBatching,
    shape,
    stepFunctionsTransitions(shape).total,
  );
  const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  const metricSeries = new Set([
    ...metered.metricSeries,
    ...meteredIp.metricSeries,
    ...durations.metricSeries,
  ]);
  const allIn = allInReport({
    usdPerMillionRuns: cost.totalUsdPerMillionRuns,
    functions: functionLoads(
      { activities: ACTIVITIES, stages: STAGE_NAMES, plugins: reports },
      {
        runs: durations.invocationsByRun,
        startMeanMs: mean(durations.counts.lambda.start.durationsMs),
        stageMeanMs: mean(durations.counts.lambda.stage.durationsMs),
      },
    ),
    eventSources: ACTIVITIES.length * STAGE_NAMES.length + 1,
    customMetrics: metricSeries.size,
    customerManagedKeys: 1,
    encryptedTopics: ACTIVITIES.length * STAGE_NAMES.length + 1,
  });
  const widest = [...wide].sort((a, b) => b.width - a.width)[0];
  const at1M = (mode: string) =>
    allIn.volumes.find((v) => v.runsPerMonth === 1e6 && v.tracing === mode)?.allInUsdPerMillionRuns ?? 0;
  const headline: Headline = {
    usdPerMillionRuns: cost.totalUsdPerMillionRuns,
    writeUnitsPerRun: reference.perRun.writeUnits,
    readUnitsPerRun: reference.perRun.readUnits,
    awsRequestsPerRun: cost.modeled.sdkCallsPerRun,
    latencyModelP50Ms: latency.deployed.p50Ms,
    latencyModelP99Ms: latency.deployed.p99Ms,
    stepFunctionsModelP50Ms: latency.stepFunctionsStandard.p50Ms,
    stepFunctionsModelP99Ms: latency.stepFunctionsStandard.p99Ms,
    wideWriteUnitsPerPlugin: widest?.writeUnitsPerPlugin ?? 0,
    wideWidth: widest?.width ?? 0,
    allInUsdPerMillionRunsAt1M: { Active: at1M('Active'), PassThrough: at1M('PassThrough') },
    notes: [
      'usdPerMillionRuns: measured per-run lines (requests counted on moto × list prices), reference run alone',
      'awsRequestsPerRun: the engine’s DynamoDB requests + SNS publishes + SQS command sends (plugin reports and event-source polls not included)',
      'latencyModel*: a MODEL (measured critical path × published in-region latencies, deployed windows), not measured on AWS',
      ...(widest && widest.width < 1000
        ? [`wideWriteUnitsPerPlugin measured at width ${widest.width} (quick mode), not 1,000`]
        : []),
    ],
  };

  const result: Omit<BenchResult, 'checks'> = {
    mode,
    plan,
    headline,
    latency,
    allIn,
    deployedTracing: deployedTracingMode(),
    reference,
    withInProgress,
    inProgressDeltaUsdPerMillionRuns: costIp.totalUsdPerMillionRuns - cost.totalUsdPerMillionRuns,
    reportPathWriteUnitsPerReport: finalOutcomes / reports,
    comparisons: comparisons(cost.totalUsdPerMillionRuns),
    lambdaDurationMs: {
      start: percentiles(durations.counts.lambda.start.durationsMs),
      stage: percentiles(durations.counts.lambda.stage.durationsMs),
    },
    ...(timing ? { timing } : {}),
    wide,
  };
  return {
    ...result,
    checks: checks(result, [...metered.states, ...meteredIp.states, ...durations.states], reports),
  };
}

function checks(r: Omit<BenchResult, 'checks'>, states: readonly string[], reports: number): Check[] {
  const list: Check[] = [];
  const check = (name: string, ok: boolean, detail: string) => list.push({ name, ok, detail });
  check(
    'every metered run completed',
    states.every((s) => s === 'Complete'),
    states.join(', '),
  );
  check(
    '9 dispatch publishes per reference run',
    r.reference.perRun.dispatchPublishes === 9,
    `${r.reference.perRun.dispatchPublishes}`,
  );
  check(
    '2 lifecycle events per run (started, completed)',
    r.reference.perRun.eventPublishes === 2,
    `${r.reference.perRun.eventPublishes}`,
  );
  check(
    `${reports} report sends per run without In Progress`,
    r.reference.perRun.pluginReports === reports,
    `${r.reference.perRun.pluginReports}`,
  );
  check(
    `${2 * reports} report sends per run with In Progress`,
    r.withInProgress.perRun.pluginReports === 2 * reports,
    `${r.withInProgress.perRun.pluginReports}`,
  );
  check(
    'no failed conditional writes on the happy path',
    r.reference.perRun.failedConditionalWrites === 0,
    `${r.reference.perRun.failedConditionalWrites}`,
  );
  check(
    'report path ≤ 4 WCU per report (reference)',
    r.reportPathWriteUnitsPerReport <= 4,
    r.reportPathWriteUnitsPerReport.toFixed(2),
  );
  for (const w of r.wide) {
    check(
      `${w.width}-plugin stage completes after one dispatch publish`,
      w.completed && w.dispatchPublishes === 1,
      `completed=${w.completed}, publishes=${w.dispatchPublishes}`,
    );
    check(
      `${w.width}-plugin stage ≤ 4 WCU per report`,
      w.writeUnitsPerReport <= 4,
      w.writeUnitsPerReport.toFixed(2),
    );
  }
  if (r.timing) check('every timed run completed', r.timing.allComplete, `${r.timing.runs} runs`);
  check(
    'the critical path reaches every stage of the reference run once',
    r.latency.path.stages.length === ACTIVITIES.length * STAGE_NAMES.length,
    `${r.latency.path.stages.length} stages on the path`,
  );
  // Whether the traced runs took the same critical path is reported, not checked: with no batching
  // window, a parallel stage's reports land in one batch or in several, as they happen to arrive.
  return list;
}
