/**
 * Turns what the benchmark measured into its models: the latency model of the reference run (from
 * the critical path of the measured invocations), Step Functions Standard's figure for the same shape,
 * the all-in monthly cost, and the headline. Pure: the inputs are measurements, the outputs numbers.
 */
import {
  ALL_IN_VOLUMES,
  type AllInInputs,
  type AllInVolume,
  allInCost,
  type FunctionLoad,
  HOURS_PER_MONTH,
  type TracingMode,
} from './all-in.js';
import {
  type CallKind,
  type CriticalPath,
  callsOnPath,
  criticalPath,
  type StageOnPath,
} from './critical-path.js';
import {
  type InboxBatching,
  type ModelResult,
  plugboardSegments,
  simulate,
  stepFunctionsPathTransitions,
  stepFunctionsSegments,
  type WorkflowShape,
} from './latency-model.js';
import type { InvocationRecord } from './meter.js';

export interface LatencyReport {
  /** The deployed configuration's windows. */
  readonly deployed: ModelResult;
  /** The same measured path with every window at 0 (what a window costs). */
  readonly windowsZero: ModelResult;
  readonly stepFunctionsStandard: ModelResult & {
    readonly transitionsOnPath: number;
    readonly transitionsPerRun: number;
  };
  readonly path: {
    /** `windowMs`: the window of one hop into the stage's inbox; `p50Ms`: its hops and invocations at p50. */
    readonly stages: readonly (StageOnPath & { readonly windowMs: number; readonly p50Ms: number })[];
    readonly calls: Record<CallKind, number>;
    readonly invocations: number;
    readonly steps: number;
    /** Whether every traced run had the same critical path. */
    readonly identicalAcrossRuns: boolean;
    readonly runsTraced: number;
  };
  /** The window per inbox the model used, as `activity/stage` → ms. */
  readonly windowsMs: Record<string, number>;
}

export function latencyReport(
  runs: readonly (readonly InvocationRecord[])[],
  batching: (activity: string, stage: string) => InboxBatching,
  shape: WorkflowShape,
  transitionsPerRun: number,
): LatencyReport {
  const first = runs[0];
  if (!first) throw new RangeError('the latency model needs at least one traced run');
  const path: CriticalPath = criticalPath(first);
  const signature = (p: CriticalPath) => JSON.stringify(p.steps);
  const identicalAcrossRuns = runs.every((r) => signature(criticalPath(r)) === signature(path));
  const deployed = simulate(plugboardSegments(path, batching));
  const windowsZero = simulate(plugboardSegments(path, (a, s) => ({ ...batching(a, s), windowMs: 0 })));
  const sfn = simulate(stepFunctionsSegments(shape));
  const windowsMs: Record<string, number> = {};
  for (const s of path.stages) windowsMs[`${s.activity}/${s.stage}`] = batching(s.activity, s.stage).windowMs;
  const p50Of = new Map(deployed.stages.map((s) => [s.stage, s]));
  return {
    deployed,
    windowsZero,
    stepFunctionsStandard: {
      ...sfn,
      transitionsOnPath: stepFunctionsPathTransitions(shape),
      transitionsPerRun,
    },
    path: {
      stages: path.stages.map((s) => {
        const key = `${s.activity}/${s.stage}`;
        return { ...s, windowMs: windowsMs[key] ?? 0, p50Ms: p50Of.get(key)?.p50Ms ?? 0 };
      }),
      calls: callsOnPath(path),
      invocations: path.steps.filter((s) => s.type === 'invocation').length,
      steps: path.steps.length,
      identicalAcrossRuns,
      runsTraced: runs.length,
    },
    windowsMs,
  };
}

export interface DeploymentShape {
  readonly activities: readonly string[];
  readonly stages: readonly string[];
  /** Plugins of the workflow (each a function invoked once per run in the reference). */
  readonly plugins: number;
}

/** Assumed mean duration of a no-op plugin invocation (kit status read + report), ms. */
export const PLUGIN_MEAN_MS = 50;
/** Assumed mean duration of one sweep (one query of the active index), ms. */
export const SWEEPER_MEAN_MS = 100;

export interface MeasuredLoad {
  readonly runs: readonly (readonly InvocationRecord[])[];
  readonly startMeanMs: number;
  readonly stageMeanMs: number;
}

/** Per-function invocations per run, from the traced invocations (stage functions by inbox). */
export function functionLoads(shape: DeploymentShape, load: MeasuredLoad): FunctionLoad[] {
  const runs = Math.max(1, load.runs.length);
  const byInbox = new Map<string, number>();
  let starts = 0;
  for (const run of load.runs) {
    for (const inv of run) {
      if (inv.kind === 'start') starts += 1;
      else {
        const key = inv.inboxUrl ?? '';
        byInbox.set(key, (byInbox.get(key) ?? 0) + 1);
      }
    }
  }
  const functions: FunctionLoad[] = [
    {
      name: 'start',
      perRun: starts / runs,
      meanMs: load.startMeanMs,
      readsTable: true,
      publishesToTopics: true,
      orchestrator: true,
    },
  ];
  for (const activity of shape.activities) {
    for (const stage of shape.stages) {
      const suffix = `-${activity}-${stage}-inbox`;
      const count = [...byInbox].filter(([url]) => url.endsWith(suffix)).reduce((sum, [, n]) => sum + n, 0);
      functions.push({
        name: `${activity}/${stage}`,
        perRun: count / runs,
        meanMs: load.stageMeanMs,
        readsTable: true,
        publishesToTopics: true,
        orchestrator: true,
      });
    }
  }
  functions.push({
    name: 'sweeper (1-minute schedule)',
    perRun: 0,
    fixedPerMonth: HOURS_PER_MONTH * 60,
    meanMs: SWEEPER_MEAN_MS,
    readsTable: true,
    publishesToTopics: false,
    orchestrator: true,
  });
  for (let i = 0; i < shape.plugins; i += 1) {
    functions.push({
      name: `plugin ${i + 1}`,
      perRun: 1,
      meanMs: PLUGIN_MEAN_MS,
      readsTable: true,
      publishesToTopics: false,
      orchestrator: false,
    });
  }
  return functions;
}

export interface AllInReport {
  readonly inputs: AllInInputs;
  readonly volumes: readonly AllInVolume[];
}

export function allInReport(inputs: AllInInputs): AllInReport {
  const modes: readonly TracingMode[] = ['Active', 'PassThrough'];
  return {
    inputs,
    volumes: modes.flatMap((mode) => ALL_IN_VOLUMES.map((runs) => allInCost(inputs, runs, mode))),
  };
}

export interface Headline {
  /** Measured per-run lines: orchestration cost per million reference runs. */
  readonly usdPerMillionRuns: number;
  readonly writeUnitsPerRun: number;
  readonly readUnitsPerRun: number;
  /** The engine's AWS calls per run: DynamoDB requests + SNS publishes + SQS engine sends. */
  readonly awsRequestsPerRun: number;
  /** Latency model (not a measurement) of the reference run's orchestration, deployed windows. */
  readonly latencyModelP50Ms: number;
  readonly latencyModelP99Ms: number;
  /** Step Functions Standard, same shape, same model. */
  readonly stepFunctionsModelP50Ms: number;
  readonly stepFunctionsModelP99Ms: number;
  /** Write units per plugin of the widest stage measured, dispatch phase and reports together. */
  readonly wideWriteUnitsPerPlugin: number;
  /** The width `wideWriteUnitsPerPlugin` was measured at (quick mode: smaller than 1,000). */
  readonly wideWidth: number;
  /** All-in cost per million runs at 1 M runs a month, tracing as deployed (Active) and PassThrough. */
  readonly allInUsdPerMillionRunsAt1M: { readonly Active: number; readonly PassThrough: number };
  readonly notes: readonly string[];
}
