/**
 * A latency MODEL of a deployed run (nothing here is measured on AWS): the critical path the
 * benchmark measured (bench/critical-path.ts: hops and calls in order) × published in-region
 * latencies, with the configured batching window of every inbox the path passes and a stated share
 * of cold starts. Each hop is a log-normal distribution through its published p50 and p99; a seeded
 * Monte Carlo of the whole path gives the run's p50 and p99 (parallel plugins race, inbox windows
 * collect what arrives). Step Functions Standard gets the same treatment from its state transitions.
 * Pure and deterministic for a given seed.
 */
import type { CallKind, CriticalPath, PathStep } from './critical-path.js';

export interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly basis: string;
}

/** In-region latencies, ms. The first five are the published figures the issue names. */
export const LATENCIES = {
  snsToLambda: { p50: 73, p99: 225, basis: 'SNS → Lambda delivery, published in-region figure' },
  sqsToLambda: { p50: 16, p99: 105, basis: 'SQS → Lambda event-source pickup, published in-region figure' },
  dynamodb: { p50: 5, p99: 15, basis: 'one DynamoDB request from Lambda, in-region' },
  snsPublish: { p50: 20, p99: 60, basis: 'SNS Publish API call' },
  sqsSend: { p50: 10, p99: 40, basis: 'SQS SendMessage API call' },
  invoke: { p50: 7, p99: 20, basis: 'warm invoke overhead (assumption)' },
  coldStart: {
    p50: 550,
    p99: 900,
    basis: 'cold start of a ~1 MB Node.js bundle at 512 MB (estimate, HOTPATH-NOTES §4: 400–700 ms)',
  },
  sfnTransition: {
    p50: 120,
    p99: 300,
    basis:
      'one Step Functions Standard state transition; AWS publishes no figure: an assumption in line with public measurements',
  },
  sfnCallback: { p50: 20, p99: 60, basis: 'SendTaskSuccess API call (a callback task resumes)' },
} as const satisfies Record<string, Latency>;

export type Latencies = { readonly [K in keyof typeof LATENCIES]: Latency };

/** How an inbox's event source batches: the window it waits and the batch that ends the wait early. */
export interface InboxBatching {
  readonly windowMs: number;
  readonly batchSize: number;
}

export interface ModelOptions {
  readonly latencies?: Latencies;
  /** Batching of each stage inbox (bench/windows.ts reads the deployed configuration). */
  readonly batching: (activity: string, stage: string) => InboxBatching;
  /** Share of Lambda invocations on the path that start cold. */
  readonly coldStartShare?: number;
  readonly samples?: number;
  readonly seed?: number;
  /**
   * What Lambda may wait on a quiet queue when a window is set (AWS documents up to 20 s at very low
   * traffic, whatever the window): the quiet worst case replaces each windowed wait by this.
   */
  readonly quietWindowMs?: number;
}

export const DEFAULT_COLD_START_SHARE = 0.01;
export const DEFAULT_SAMPLES = 20_000;
export const QUIET_WINDOW_MS = 20_000;

/** The plugin's own calls in a no-op plugin: the kit's status read, then its report. */
export const PLUGIN_CALLS: readonly CallKind[] = ['dynamodb', 'sqsSend'];

type Category = 'window' | 'delivery' | 'calls' | 'invoke' | 'plugin' | 'transition';

interface Part {
  readonly category: Category;
  /** The part takes the slowest of these (calls sent together). */
  readonly latencies: readonly Latency[];
  /** A Lambda invocation: may start cold. */
  readonly lambda?: boolean;
}

/** A step of the model: `branches` parallel copies of `parts`, joined (through an inbox, if any). */
export interface Segment {
  readonly label: string;
  /** The stage it belongs to (`start` for the start function, `sfn` rows for Step Functions). */
  readonly stage: string;
  readonly branches: number;
  readonly parts: readonly Part[];
  readonly inbox?: InboxBatching;
}

export interface Percentile {
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface StageLatency {
  readonly stage: string;
  readonly p50Ms: number;
  readonly windowMs: number;
}

export interface ModelResult extends Percentile {
  readonly label: 'model';
  readonly meanMs: number;
  /** Every hop at its p50, no cold start (a deterministic sum). */
  readonly allAtP50Ms: number;
  /** Every hop at its p99, no cold start (a deterministic sum: far above the run's p99). */
  readonly allAtP99Ms: number;
  /** The p50 path with every windowed wait at `quietWindowMs`. */
  readonly quietWorstCaseMs: number;
  /** Hops on the path that wait out a batching window. */
  readonly windowedHops: number;
  /** Of `allAtP50Ms`, per category (window, delivery, calls, invoke, plugin, transition). */
  readonly breakdownAtP50Ms: Readonly<Record<Category, number>>;
  readonly lambdaInvocationsOnPath: number;
  readonly stages: readonly StageLatency[];
  readonly coldStartShare: number;
  readonly samples: number;
  readonly seed: number;
}

const Z99 = 2.326_347_874;

/** A seeded PRNG (mulberry32): uniform in [0, 1). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Mode = 'random' | 'p50' | 'p99';

/** One draw of a log-normal through (p50, p99); a fixed quantile in the `p50`/`p99` modes. */
export function draw(latency: Latency, mode: Mode, rng: () => number): number {
  if (mode === 'p50') return latency.p50;
  if (mode === 'p99') return latency.p99;
  if (latency.p99 <= latency.p50 || latency.p50 <= 0) return latency.p50;
  const sigma = Math.log(latency.p99 / latency.p50) / Z99;
  const u1 = Math.max(rng(), Number.MIN_VALUE);
  const u2 = rng();
  const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  return latency.p50 * Math.exp(sigma * z);
}

/**
 * When the handler invocation that takes the last of `arrivals` starts: at once with no window;
 * otherwise each batch opens at its first arrival and closes after the window or when full.
 */
export function batchedStart(arrivals: readonly number[], inbox: InboxBatching | undefined): number {
  const sorted = [...arrivals].sort((a, b) => a - b);
  const last = sorted[sorted.length - 1] ?? 0;
  if (!inbox || inbox.windowMs <= 0) return last;
  let i = 0;
  let close = 0;
  while (i < sorted.length) {
    const open = sorted[i] as number;
    close = open + inbox.windowMs;
    let taken = 0;
    while (i < sorted.length && (sorted[i] as number) <= close && taken < inbox.batchSize) {
      taken += 1;
      if (taken === inbox.batchSize) close = sorted[i] as number;
      i += 1;
    }
  }
  return close;
}

const zeroCategories = (): Record<Category, number> => ({
  window: 0,
  delivery: 0,
  calls: 0,
  invoke: 0,
  plugin: 0,
  transition: 0,
});

interface Sampled {
  total: number;
  byCategory?: Record<Category, number>;
  byStage?: Map<string, number>;
}

function runOnce(
  segments: readonly Segment[],
  mode: Mode,
  rng: () => number,
  coldShare: number,
  latencies: Latencies,
  account: boolean,
): Sampled {
  const byCategory = zeroCategories();
  const byStage = new Map<string, number>();
  let t = 0;
  for (const segment of segments) {
    const arrivals: number[] = [];
    let firstBranch: Record<Category, number> | undefined;
    for (let b = 0; b < segment.branches; b += 1) {
      let branch = 0;
      const cats = zeroCategories();
      for (const part of segment.parts) {
        let ms = Math.max(...part.latencies.map((l) => draw(l, mode, rng)));
        if (part.lambda) {
          const cold = mode === 'random' && rng() < coldShare;
          if (cold) ms += draw(latencies.coldStart, mode, rng);
        }
        branch += ms;
        cats[part.category] += ms;
      }
      arrivals.push(t + branch);
      firstBranch ??= cats;
    }
    const joined = batchedStart(arrivals, segment.inbox);
    if (account && firstBranch) {
      for (const k of Object.keys(firstBranch) as Category[]) byCategory[k] += firstBranch[k];
      byCategory.window += joined - Math.max(...arrivals);
      byStage.set(segment.stage, (byStage.get(segment.stage) ?? 0) + (joined - t));
    }
    t = joined;
  }
  return account ? { total: t, byCategory, byStage } : { total: t };
}

const quantile = (sorted: readonly number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;

/** Runs the model over `segments`. */
export function simulate(
  segments: readonly Segment[],
  options: Omit<ModelOptions, 'batching'> = {},
): ModelResult {
  const latencies = options.latencies ?? LATENCIES;
  const coldShare = options.coldStartShare ?? DEFAULT_COLD_START_SHARE;
  const samples = options.samples ?? DEFAULT_SAMPLES;
  const seed = options.seed ?? 1;
  if (!Number.isInteger(samples) || samples < 1) {
    throw new RangeError(`samples must be a positive integer (got ${samples})`);
  }
  if (!(coldShare >= 0 && coldShare <= 1)) {
    throw new RangeError(`coldStartShare must be between 0 and 1 (got ${coldShare})`);
  }
  const rng = random(seed);
  const totals: number[] = [];
  for (let i = 0; i < samples; i += 1)
    totals.push(runOnce(segments, 'random', rng, coldShare, latencies, false).total);
  totals.sort((a, b) => a - b);
  const atP50 = runOnce(segments, 'p50', rng, 0, latencies, true);
  const atP99 = runOnce(segments, 'p99', rng, 0, latencies, false);
  const quietMs = options.quietWindowMs ?? QUIET_WINDOW_MS;
  const windowed = segments.filter((s) => s.inbox && s.inbox.windowMs > 0);
  const quiet = runOnce(
    segments.map((s) =>
      s.inbox && s.inbox.windowMs > 0 ? { ...s, inbox: { ...s.inbox, windowMs: quietMs } } : s,
    ),
    'p50',
    rng,
    0,
    latencies,
    false,
  );
  const windowOf = new Map<string, number>();
  for (const s of windowed) windowOf.set(s.stage, (windowOf.get(s.stage) ?? 0) + (s.inbox?.windowMs ?? 0));
  return {
    label: 'model',
    p50Ms: quantile(totals, 0.5),
    p99Ms: quantile(totals, 0.99),
    meanMs: totals.reduce((a, b) => a + b, 0) / totals.length,
    allAtP50Ms: atP50.total,
    allAtP99Ms: atP99.total,
    quietWorstCaseMs: quiet.total,
    windowedHops: windowed.length,
    breakdownAtP50Ms: atP50.byCategory as Record<Category, number>,
    lambdaInvocationsOnPath: segments.reduce(
      (sum, s) => sum + s.parts.filter((p) => p.lambda).length * (s.branches > 0 ? 1 : 0),
      0,
    ),
    stages: [...(atP50.byStage ?? new Map<string, number>())].map(([stage, p50Ms]) => ({
      stage,
      p50Ms,
      windowMs: windowOf.get(stage) ?? 0,
    })),
    coldStartShare: coldShare,
    samples,
    seed,
  };
}

const callLatency = (latencies: Latencies, kind: CallKind): Latency => latencies[kind];

/** The model's segments for a measured Plugboard critical path. */
export function plugboardSegments(
  path: CriticalPath,
  batching: ModelOptions['batching'],
  latencies: Latencies = LATENCIES,
): Segment[] {
  return path.steps.map((step: PathStep): Segment => {
    if (step.type === 'invocation') {
      const stage = step.kind === 'start' ? 'start' : `${step.activity}/${step.stage}`;
      return {
        label: `${step.kind === 'start' ? 'start function' : `${stage} handler`} (${step.waves.length} call waves, emits ${step.emits})`,
        stage,
        branches: 1,
        parts: [
          { category: 'invoke', latencies: [latencies.invoke], lambda: true },
          ...step.waves.map((wave) => ({
            category: 'calls' as const,
            latencies: wave.map((k) => callLatency(latencies, k)),
          })),
        ],
      };
    }
    const stage = `${step.activity}/${step.stage}`;
    const inbox = batching(step.activity, step.stage);
    if (step.type === 'sqs-hop') {
      return {
        label: `${step.command} command → ${stage} inbox`,
        stage,
        branches: 1,
        parts: [{ category: 'delivery', latencies: [latencies.sqsToLambda] }],
        inbox,
      };
    }
    return {
      label: `dispatch → ${step.plugins} plugin(s) → reports → ${stage} inbox`,
      stage,
      branches: step.plugins,
      parts: [
        { category: 'delivery', latencies: [latencies.snsToLambda] },
        { category: 'plugin', latencies: [latencies.invoke], lambda: true },
        ...PLUGIN_CALLS.map((k) => ({ category: 'plugin' as const, latencies: [callLatency(latencies, k)] })),
        { category: 'delivery', latencies: [latencies.sqsToLambda] },
      ],
      inbox,
    };
  });
}

/** The reference workflow's shape (per activity: plugins per stage). */
export interface WorkflowShape {
  readonly activities: number;
  readonly pre: number;
  readonly parallel: number;
  readonly post: number;
}

/** Step Functions Standard transitions on the critical path: per activity pre, Map, one iteration, post; Succeed. */
export function stepFunctionsPathTransitions(shape: WorkflowShape): number {
  return shape.activities * (shape.pre + (shape.parallel > 0 ? 2 : 0) + shape.post) + 1;
}

/**
 * Segments of a faithful Step Functions Standard design of the same workflow: every plugin is a
 * callback Task (the state machine publishes with `.waitForTaskToken`; the plugin calls
 * SendTaskSuccess); the parallel plugins are the iterations of a Map state.
 */
export function stepFunctionsSegments(shape: WorkflowShape, latencies: Latencies = LATENCIES): Segment[] {
  const task = (): Part[] => [
    { category: 'transition', latencies: [latencies.sfnTransition] },
    { category: 'calls', latencies: [latencies.snsPublish] },
    { category: 'delivery', latencies: [latencies.snsToLambda] },
    { category: 'plugin', latencies: [latencies.invoke], lambda: true },
    { category: 'plugin', latencies: [latencies.dynamodb] },
    { category: 'plugin', latencies: [latencies.sfnCallback] },
  ];
  const segments: Segment[] = [];
  for (let a = 1; a <= shape.activities; a += 1) {
    const stage = `activity ${a}`;
    for (let i = 0; i < shape.pre; i += 1)
      segments.push({ label: 'pre Task', stage, branches: 1, parts: task() });
    if (shape.parallel > 0) {
      segments.push({
        label: 'Map state',
        stage,
        branches: 1,
        parts: [{ category: 'transition', latencies: [latencies.sfnTransition] }],
      });
      segments.push({ label: 'Map iterations', stage, branches: shape.parallel, parts: task() });
    }
    for (let i = 0; i < shape.post; i += 1)
      segments.push({ label: 'post Task', stage, branches: 1, parts: task() });
  }
  segments.push({
    label: 'Succeed',
    stage: 'end',
    branches: 1,
    parts: [{ category: 'transition', latencies: [latencies.sfnTransition] }],
  });
  return segments;
}
