/**
 * The benchmark scenarios, each on the orchestra harness (real start/stage handlers and SDK adapters
 * in-process, against a moto server): metered reference runs, timed reference runs, and one wide
 * parallel stage.
 */
import { CachedRegistry } from '../lambdas/adapters/cached-registry.js';
import type { EngineDeps, EngineObserver } from '../lambdas/engine/deps.js';
import { type FakePlugin, Orchestra } from '../test/support/orchestra.js';
import { ACTIVITIES, referencePlugins, WORKFLOW } from '../test/support/reference.js';
import { reportBatches } from '../test/support/wide-stage.js';
import { type Counts, callSite, type InvocationRecord, Meter } from './meter.js';

/** Runs every method of a port inside `callSite`, so the meter can say which method sent a request. */
function attributed<T extends object>(port: T, name: string): T {
  return new Proxy(port, {
    get: (target, property, receiver) => {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const site = `${name}.${String(property)}`;
      return (...args: unknown[]) =>
        callSite.run(site, () => (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
}

/** Names of the reference workflow's 21 plugins. */
export function referencePluginNames(): string[] {
  return ACTIVITIES.flatMap((a) => [`${a}-pre`, ...[1, 2, 3, 4, 5].map((i) => `${a}-par-${i}`), `${a}-post`]);
}

/** Reference plugins that complete at once, optionally sending the kit's `In Progress` report first. */
export function benchPlugins(inProgressReports: boolean): FakePlugin[] {
  const overrides = Object.fromEntries(
    referencePluginNames().map((name) => [
      name,
      { reportInProgress: inProgressReports, behave: () => ({ status: 'Complete' as const }) },
    ]),
  );
  return referencePlugins(overrides);
}

/** Observations the engine reports, collected in memory. */
export class Observations {
  runsEnded = 0;
  readonly runStates: string[] = [];
  readonly overheadsMs: number[] = [];

  observer(): EngineObserver {
    return {
      runEnded: ({ state }) => {
        this.runsEnded += 1;
        this.runStates.push(state);
      },
      stageOverhead: ({ overheadMs }) => {
        this.overheadsMs.push(overheadMs);
      },
    };
  }

  /** Keeps the handlers' own observer (logs and EMF) and adds this one. */
  wrap = (deps: EngineDeps): EngineDeps => {
    const mine = this.observer();
    const theirs = deps.observer ?? {};
    const both: EngineObserver = {
      ...theirs,
      runEnded: (info) => {
        theirs.runEnded?.(info);
        mine.runEnded?.(info);
      },
      stageOverhead: (info) => {
        theirs.stageOverhead?.(info);
        mine.stageOverhead?.(info);
      },
    };
    return {
      ...deps,
      store: attributed(deps.store, 'store'),
      registry: attributed(deps.registry, 'registry'),
      observer: both,
    };
  };
}

export class BenchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BenchError';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Pumps the harness until `done()` holds and a round finds nothing left to deliver. */
export async function settle(o: Orchestra, done: () => boolean, maxRounds = 2_000): Promise<void> {
  for (let round = 0; round < maxRounds; round += 1) {
    const handled = await o.pump();
    if (handled === 0) {
      if (done()) return;
      await sleep(5);
    }
  }
  throw new BenchError(`the harness did not settle within ${maxRounds} rounds`);
}

const isInbox = (url: string) => url.endsWith('-inbox');

async function referenceOrchestra(
  endpoint: string,
  inProgressReports: boolean,
  images: boolean,
  traceInvocations = false,
): Promise<{ o: Orchestra; meter: Meter; seen: Observations }> {
  const seen = new Observations();
  // As deployed: each orchestrator keeps the registry in its container for 30 s (CachedRegistry), so
  // at a steady rate a stage start reads no registration. One cache stands for the warm containers.
  let registry: CachedRegistry | undefined;
  const o = await Orchestra.create({
    endpoint,
    workflows: { [WORKFLOW]: ACTIVITIES },
    plugins: benchPlugins(inProgressReports),
    wrap: (deps) => {
      registry ??= new CachedRegistry(deps.registry, { now: () => new Date() });
      return { ...seen.wrap(deps), registry };
    },
  });
  const meter = new Meter({ endpoint, tableName: o.table.tableName, isInbox, images, traceInvocations });
  meter.attach({ sqs: o.sqs, sns: o.sns, documentClient: o.table.documentClient });
  return { o, meter, seen };
}

async function startTimed(o: Orchestra, meter: Meter, uid: string): Promise<void> {
  const started = performance.now();
  meter.beginStart();
  const response = await o.start({ workflow: WORKFLOW, uid }).finally(() => meter.endInvocation());
  meter.recordStart(performance.now() - started);
  if (!response.ok) throw new BenchError(`run ${uid} did not start: ${JSON.stringify(response)}`);
}

export interface MeteredRuns {
  readonly runs: number;
  readonly counts: Counts;
  readonly states: readonly string[];
  /** Per run, its handler invocations with their calls in order (only runs traced). */
  readonly invocationsByRun: readonly (readonly InvocationRecord[])[];
  /** Distinct custom metrics the handlers' EMF lines defined (when their output reached the meter). */
  readonly metricSeries: readonly string[];
}

/**
 * Reference runs one after another, every request metered with item images. Each run is alone in
 * the system, so its inbox batches are as small as they get (the conservative case for polling).
 */
export async function meterReferenceRuns(
  endpoint: string,
  options: {
    runs: number;
    inProgressReports: boolean;
    images?: boolean;
    onLine?: (meter: Meter) => void;
    /** Record each run's invocations and their calls in order (`invocationsByRun`). */
    traceInvocations?: boolean;
  },
): Promise<MeteredRuns> {
  const { o, meter, seen } = await referenceOrchestra(
    endpoint,
    options.inProgressReports,
    options.images ?? true,
    options.traceInvocations ?? false,
  );
  options.onLine?.(meter);
  meter.recording = true;
  const invocationsByRun: InvocationRecord[][] = [];
  for (let i = 0; i < options.runs; i += 1) {
    await startTimed(o, meter, `cost-${options.inProgressReports ? 'ip' : 'plain'}-${i}`);
    await settle(o, () => seen.runsEnded >= i + 1);
    if (options.traceInvocations) invocationsByRun.push(meter.takeInvocations());
  }
  meter.recording = false;
  return {
    runs: options.runs,
    counts: meter.counts,
    states: seen.runStates,
    invocationsByRun,
    metricSeries: [...meter.metricSeries].sort(),
  };
}

export interface TimedRuns {
  readonly runs: number;
  readonly concurrency: number;
  readonly elapsedMs: number;
  readonly overheadsMs: readonly number[];
  readonly counts: Counts;
  readonly states: readonly string[];
}

/**
 * Reference runs started `concurrency` at a time (a wave) and pumped until the wave ends; throughput
 * is runs over the time spent in waves (harness set-up excluded). A fresh harness (and table) every
 * `wavesPerTable` waves keeps moto's per-transaction table copy from dominating.
 */
export async function timeReferenceRuns(
  endpoint: string,
  options: {
    runs: number;
    concurrency: number;
    wavesPerTable?: number;
    onLine?: (meter: Meter) => void;
    progress?: (message: string) => void;
  },
): Promise<TimedRuns> {
  const wavesPerTable = options.wavesPerTable ?? 1;
  const overheadsMs: number[] = [];
  const states: string[] = [];
  let elapsedMs = 0;
  let done = 0;
  let total: Counts | undefined;
  let wave = 0;
  while (done < options.runs) {
    const { o, meter, seen } = await referenceOrchestra(endpoint, false, false);
    options.onLine?.(meter);
    for (let w = 0; w < wavesPerTable && done < options.runs; w += 1, wave += 1) {
      const size = Math.min(options.concurrency, options.runs - done);
      const target = seen.runsEnded + size;
      meter.recording = true;
      const started = performance.now();
      await Promise.all(Array.from({ length: size }, (_, i) => startTimed(o, meter, `time-${wave}-${i}`)));
      await settle(o, () => seen.runsEnded >= target);
      elapsedMs += performance.now() - started;
      meter.recording = false;
      done += size;
      options.progress?.(`${done}/${options.runs} runs, ${(elapsedMs / 1000).toFixed(1)} s in waves`);
    }
    overheadsMs.push(...seen.overheadsMs);
    states.push(...seen.runStates);
    total = total ? mergeCounts(total, meter.counts) : meter.counts;
  }
  return {
    runs: options.runs,
    concurrency: options.concurrency,
    elapsedMs,
    overheadsMs,
    counts: total ?? new Meter({ endpoint, tableName: '', isInbox, images: false }).counts,
    states,
  };
}

function mergeCounts(a: Counts, b: Counts): Counts {
  const rc = (x: Counts['snsPublish'], y: Counts['snsPublish']) => ({
    requests: x.requests + y.requests,
    chunks: x.chunks + y.chunks,
    bytes: x.bytes + y.bytes,
  });
  const requests = { ...a.dynamo.requests };
  for (const [k, v] of Object.entries(b.dynamo.requests)) requests[k] = (requests[k] ?? 0) + v;
  return {
    snsPublish: rc(a.snsPublish, b.snsPublish),
    snsEvents: rc(a.snsEvents, b.snsEvents),
    sqs: {
      engineSend: rc(a.sqs.engineSend, b.sqs.engineSend),
      pluginReport: rc(a.sqs.pluginReport, b.sqs.pluginReport),
      pollReceive: rc(a.sqs.pollReceive, b.sqs.pollReceive),
      pollDelete: rc(a.sqs.pollDelete, b.sqs.pollDelete),
      harness: rc(a.sqs.harness, b.sqs.harness),
    },
    dynamo: {
      requests,
      tableWriteUnits: a.dynamo.tableWriteUnits + b.dynamo.tableWriteUnits,
      indexWriteUnits: a.dynamo.indexWriteUnits + b.dynamo.indexWriteUnits,
      readUnits: a.dynamo.readUnits + b.dynamo.readUnits,
      failedConditionalWrites: a.dynamo.failedConditionalWrites + b.dynamo.failedConditionalWrites,
      itemWrites: a.dynamo.itemWrites + b.dynamo.itemWrites,
      largestItemBytes: Math.max(a.dynamo.largestItemBytes, b.dynamo.largestItemBytes),
      byMethod: mergeMethods(a.dynamo.byMethod, b.dynamo.byMethod),
    },
    lambda: {
      start: {
        invocations: a.lambda.start.invocations + b.lambda.start.invocations,
        durationsMs: [...a.lambda.start.durationsMs, ...b.lambda.start.durationsMs],
      },
      stage: {
        invocations: a.lambda.stage.invocations + b.lambda.stage.invocations,
        durationsMs: [...a.lambda.stage.durationsMs, ...b.lambda.stage.durationsMs],
      },
    },
    logs: {
      emfLines: a.logs.emfLines + b.logs.emfLines,
      emfBytes: a.logs.emfBytes + b.logs.emfBytes,
      logLines: a.logs.logLines + b.logs.logLines,
      logBytes: a.logs.logBytes + b.logs.logBytes,
    },
  };
}

function mergeMethods(a: Counts['dynamo']['byMethod'], b: Counts['dynamo']['byMethod']) {
  const merged: Counts['dynamo']['byMethod'] = {};
  for (const source of [a, b]) {
    for (const [k, v] of Object.entries(source)) {
      const m = merged[k] ?? { requests: 0, writeUnits: 0, readUnits: 0 };
      merged[k] = m;
      m.requests += v.requests;
      m.writeUnits += v.writeUnits;
      m.readUnits += v.readUnits;
    }
  }
  return merged;
}

export interface WideStage {
  readonly width: number;
  readonly completed: boolean;
  readonly pluginsComplete: number;
  readonly dispatchPublishes: number;
  /** Write units from the start until the stage's dispatch (run start and empty pre stage included). */
  readonly dispatchWriteUnits: number;
  /** DynamoDB units of the report phase only (report batches into the parallel stage's handler). */
  readonly reportCounts: Counts;
  readonly writeUnitsPerReport: number;
  readonly readUnitsPerReport: number;
  readonly reportPhaseMs: number;
}

/**
 * One parallel stage of `width` mandatory plugins, dispatched in one publish; the reports reach the
 * stage handler in batches of 10 (the event-source batch size the constructs configure), one batch
 * at a time, metered with item images.
 */
export async function wideStage(endpoint: string, width: number): Promise<WideStage> {
  const seen = new Observations();
  const o = await Orchestra.create({
    endpoint,
    workflows: { wide: ['fanout'] },
    plugins: [],
    wrap: seen.wrap,
  });
  const meter = new Meter({ endpoint, tableName: o.table.tableName, isInbox, images: true });
  meter.attach({ sqs: o.sqs, sns: o.sns, documentClient: o.table.documentClient });
  for (let i = 0; i < width; i += 1) {
    await o.register('fanout', 'parallel', {
      name: `p${String(i).padStart(4, '0')}`,
      default: { mandatory: true },
    });
  }
  const uid = `wide-${width}`;
  // Dispatch phase: from the start until the parallel stage is dispatched (the run's own start and
  // its empty pre stage are included: a few WCU for the whole stage).
  meter.recording = true;
  await o.start({ workflow: 'wide', uid });
  for (let round = 0; round < 6 && !o.published.some((m) => m.stage === 'parallel'); round += 1)
    await o.pump();
  const dispatch = o.published.find((m) => m.stage === 'parallel');
  if (!dispatch) throw new BenchError(`the ${width}-plugin parallel stage was not dispatched`);
  const dispatchCounts = meter.counts;
  meter.reset();
  const handler = o.stageHandler('fanout', 'parallel');
  const started = performance.now();
  for (const event of reportBatches(dispatch, 10)) {
    const result = await handler(event);
    if (result.batchItemFailures.length > 0)
      throw new BenchError(`${result.batchItemFailures.length} reports failed at width ${width}`);
  }
  const reportPhaseMs = performance.now() - started;
  meter.recording = false;
  const reportCounts = meter.counts;
  await settle(o, () => seen.runsEnded >= 1);
  const snapshot = await o.store.readRun({ workflow: 'wide', uid });
  const pluginsComplete = snapshot?.plugins.filter((p) => p.state === 'Complete').length ?? 0;
  const dynamo = reportCounts.dynamo;
  const dispatchWriteUnits = dispatchCounts.dynamo.tableWriteUnits + dispatchCounts.dynamo.indexWriteUnits;
  return {
    width,
    dispatchWriteUnits,
    completed: snapshot?.run.state === 'Complete' && pluginsComplete === width,
    pluginsComplete,
    dispatchPublishes: o.published.filter((m) => m.stage === 'parallel').length,
    reportCounts,
    writeUnitsPerReport: (dynamo.tableWriteUnits + dynamo.indexWriteUnits) / width,
    readUnitsPerReport: dynamo.readUnits / width,
    reportPhaseMs,
  };
}
