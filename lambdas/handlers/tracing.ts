/**
 * X-Ray annotations of the functions that work on runs (start and stage orchestrators): with tracing
 * on (`--context tracing=active`), each invocation runs in a subsegment annotated with the `workflow`
 * and `uid` it worked on, through Powertools' Tracer. A module of its own, so that functions that do
 * not trace runs (sweeper, registrar) do not load the X-Ray SDK (about 130 KB of bundle).
 */
import { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * The tracer of a handler module. Off outside Lambda and with `POWERTOOLS_TRACE_ENABLED=false`
 * (Powertools decides); in Lambda, a trace is recorded only when it is sampled (active tracing, or a
 * sampled upstream header with pass-through).
 */
export function createTracer(service: string): Tracer {
  return new Tracer({ serviceName: service });
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
