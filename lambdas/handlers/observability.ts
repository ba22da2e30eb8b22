/**
 * One logger, one metrics and one tracer instance per handler module (Powertools), and the bridge
 * that turns the engine's observations into structured logs and EMF metrics. Metric names live in
 * metric-names.ts (no Powertools import, so the dashboard and the CLI read them cheaply); dimensions
 * live here. With X-Ray tracing on (`--context tracing=active`), {@link traceRuns} gives each
 * invocation a subsegment annotated with the `workflow` and `uid` it worked on.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { EngineObserver } from '../engine/deps.js';
import { METRIC_NAMES, METRICS_NAMESPACE } from './metric-names.js';

export { METRIC_NAMES, METRICS_NAMESPACE } from './metric-names.js';

export interface Observability {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Off outside Lambda and with `POWERTOOLS_TRACE_ENABLED=false` (Powertools decides). */
  readonly tracer: Tracer;
  readonly observer: EngineObserver;
}

export function createObservability(
  service: string,
  deploymentStage: string,
  options: { readonly tracer?: Tracer } = {},
): Observability {
  const tracer = options.tracer ?? new Tracer({ serviceName: service });
  const logger = new Logger({ serviceName: service, persistentKeys: { deploymentStage } });
  // One `service` dimension for every handler (POWERTOOLS_SERVICE_NAME, set by the constructs), so a
  // workflow's runs-started and runs-failed are one series each, whichever handler emits them.
  const metrics = new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'plugboard',
    defaultDimensions: { deploymentStage },
  });
  const emit = (
    name: string,
    unit: (typeof MetricUnit)[keyof typeof MetricUnit],
    value: number,
    dimensions: Record<string, string>,
  ) => {
    const single = metrics.singleMetric();
    single.addDimensions(dimensions);
    single.addMetric(name, unit, value);
  };
  const observer: EngineObserver = {
    runStarted: ({ workflow, uid, rerun }) => {
      logger.info('run started', { workflow, uid, rerun });
      emit(METRIC_NAMES.runsStarted, MetricUnit.Count, 1, { workflow });
    },
    runEnded: ({ workflow, uid, state, durationMs }) => {
      logger.info('run ended', { workflow, uid, state, durationMs });
      const name =
        state === 'Complete'
          ? METRIC_NAMES.runsCompleted
          : state === 'Cancelled'
            ? METRIC_NAMES.runsCancelled
            : METRIC_NAMES.runsFailed;
      emit(name, MetricUnit.Count, 1, { workflow });
      emit(METRIC_NAMES.runDuration, MetricUnit.Milliseconds, durationMs, { workflow });
    },
    stageCompleted: ({ workflow, activity, stage, durationMs }) => {
      emit(METRIC_NAMES.stageDuration, MetricUnit.Milliseconds, durationMs, { workflow, activity, stage });
    },
    stageOverhead: ({ workflow, activity, stage, overheadMs }) => {
      emit(METRIC_NAMES.stageOverhead, MetricUnit.Milliseconds, overheadMs, { workflow, activity, stage });
    },
    pluginFinished: ({ workflow, activity, stage, plugin, state, durationMs }) => {
      if (durationMs !== undefined) {
        emit(METRIC_NAMES.pluginDuration, MetricUnit.Milliseconds, durationMs, { activity, stage, plugin });
      }
      if (state === 'Error')
        emit(METRIC_NAMES.pluginErrors, MetricUnit.Count, 1, { activity, stage, plugin });
      if (state === 'Timed Out')
        emit(METRIC_NAMES.pluginTimeouts, MetricUnit.Count, 1, { activity, stage, plugin });
      if (state !== 'Complete') logger.warn('plugin failed', { workflow, activity, stage, plugin, state });
    },
    pluginRetried: ({ workflow, activity, stage, plugin, attempt, reason }) => {
      logger.info('plugin retry scheduled', { workflow, activity, stage, plugin, attempt, reason });
      emit(METRIC_NAMES.pluginRetries, MetricUnit.Count, 1, { activity, stage, plugin });
    },
    lateReport: ({ workflow, uid, activity, stage, plugin, reason }) => {
      logger.info('late report recorded', { workflow, uid, activity, stage, plugin, reason });
      emit(METRIC_NAMES.lateReports, MetricUnit.Count, 1, { activity, stage });
    },
    note: (message, detail) => logger.info(message, detail),
  };
  return { logger, metrics, tracer, observer };
}

/** The run an invocation works on, as annotated on its trace. */
export interface TracedRun {
  readonly workflow: string;
  readonly uid: string;
}

/** X-Ray annotation values are at most 1,000 characters; longer ones are not annotated. */
const MAX_ANNOTATION_LENGTH = 1000;

/**
 * Wraps a handler so that, when the invocation is traced, it runs in a `## <handler>` subsegment
 * (cold start and service annotations as Powertools' `captureLambdaHandler` adds them) annotated
 * with `workflow` and `uid` — annotations, so traces can be filtered by run
 * (`annotation.uid = "o-1"`), and nothing else of the event. A batch that touches several runs
 * annotates the subsegment with the workflow when they share one, and gets one `run` subsegment per
 * run carrying both. Neither responses nor payloads are recorded. Untraced, it calls the handler
 * as is.
 */
export function traceRuns<E, C, R>(
  tracer: Tracer,
  runsOf: (event: E) => readonly TracedRun[],
  handler: (event: E, context?: C) => Promise<R>,
): (event: E, context?: C) => Promise<R> {
  return async (event, context) => {
    if (!tracer.isTracingEnabled()) return handler(event, context);
    const parent = tracer.getSegment();
    if (parent === undefined) return handler(event, context);
    const subsegment = parent.addNewSubsegment(`## ${process.env._HANDLER ?? 'handler'}`);
    tracer.setSegment(subsegment);
    try {
      tracer.annotateColdStart();
      tracer.addServiceNameAnnotation();
      const runs = distinctRuns(runsOf(event));
      const workflows = new Set(runs.map((run) => run.workflow));
      const [only] = workflows;
      if (only !== undefined && workflows.size === 1) subsegment.addAnnotation('workflow', only);
      const [first] = runs;
      if (first !== undefined && runs.length === 1) subsegment.addAnnotation('uid', first.uid);
      else
        for (const run of runs) {
          const child = subsegment.addNewSubsegment('run');
          child.addAnnotation('workflow', run.workflow);
          child.addAnnotation('uid', run.uid);
          child.close();
        }
      return await handler(event, context);
    } catch (error) {
      tracer.addErrorAsMetadata(error as Error);
      throw error;
    } finally {
      subsegment.close();
      tracer.setSegment(parent);
    }
  };
}

function distinctRuns(runs: readonly TracedRun[]): TracedRun[] {
  const seen = new Map<string, TracedRun>();
  for (const run of runs) {
    if (run.workflow.length > MAX_ANNOTATION_LENGTH || run.uid.length > MAX_ANNOTATION_LENGTH) continue;
    seen.set(JSON.stringify([run.workflow, run.uid]), run);
  }
  return [...seen.values()];
}

/**
 * The runs named by an SQS batch's messages or by a direct invocation: every JSON body (or the event
 * itself) with string `workflow` and `uid` fields. Bodies that are not such objects name no run;
 * validating them stays the handler's job.
 */
export function runsOfEvent(event: unknown): TracedRun[] {
  const records =
    isObject(event) && Array.isArray(event.Records)
      ? event.Records.map((record: unknown) => (isObject(record) ? parseBody(record.body) : undefined))
      : [event];
  return records.flatMap((body) =>
    isObject(body) && typeof body.workflow === 'string' && typeof body.uid === 'string'
      ? [{ workflow: body.workflow, uid: body.uid }]
      : [],
  );
}

function parseBody(body: unknown): unknown {
  if (typeof body !== 'string') return undefined;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
