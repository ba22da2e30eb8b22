/**
 * X-Ray annotations of the orchestrators: with tracing on, each invocation runs in a subsegment
 * annotated with the workflow and uid it worked on (annotations, not metadata, and no payload); with
 * tracing off, the handler runs untouched.
 */
import { Tracer } from '@aws-lambda-powertools/tracer';
import AWSXRay from 'aws-xray-sdk-core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runsOfEvent, traceRuns } from '../../../lambdas/handlers/tracing.js';

type TraceNode = {
  name: string;
  annotations?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  subsegments?: TraceNode[];
};

const sqsEvent = (...bodies: unknown[]) => ({
  Records: bodies.map((body, i) => ({
    messageId: `m-${i}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })),
});

const report = (uid: string, workflow = 'order') => ({
  schemaVersion: 1,
  kind: 'report',
  workflow,
  uid,
  activity: 'intake',
  stage: 'parallel',
  plugin: 'fraud',
  status: 'Complete',
  result: { card: '4111-1111-1111-1111' },
});

/** Runs `fn` as Lambda would: inside a trace whose facade segment is `facade`. */
async function inTrace<T>(facade: AWSXRay.Segment, fn: () => Promise<T>): Promise<T> {
  return AWSXRay.getNamespace().runPromise(async () => {
    AWSXRay.setSegment(facade);
    return fn();
  });
}

describe('traceRuns with tracing on', () => {
  let tracer: Tracer;
  let facade: AWSXRay.Segment;

  beforeEach(() => {
    // Powertools traces only inside Lambda: pretend to be there.
    vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs24.x');
    vi.stubEnv('_HANDLER', 'index.handler');
    tracer = new Tracer({ serviceName: 'plugboard-intake-parallel', captureHTTPsRequests: false });
    facade = new AWSXRay.Segment('plugboard-intake-parallel');
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  const invocation = () => (facade as unknown as TraceNode).subsegments?.[0];

  it('annotates the invocation subsegment with the workflow and uid of its run', async () => {
    let current: string | undefined;
    const handler = traceRuns(tracer, runsOfEvent, async () => {
      current = tracer.getSegment()?.name;
      return 'done';
    });

    const answer = await inTrace(facade, () => handler(sqsEvent(report('o-1'), report('o-1'))));

    expect(answer).toBe('done');
    expect(current).toBe('## index.handler');
    expect(invocation()?.name).toBe('## index.handler');
    expect(invocation()?.annotations).toMatchObject({ workflow: 'order', uid: 'o-1' });
  });

  it('records annotations only: neither the message nor the response lands in the trace', async () => {
    const handler = traceRuns(tracer, runsOfEvent, async () => ({ secret: 'response' }));

    await inTrace(facade, () => handler(sqsEvent(report('o-1'))));

    const serialized = JSON.stringify(facade);
    expect(serialized).not.toContain('4111');
    expect(serialized).not.toContain('response');
    expect(invocation()?.metadata).toBeUndefined();
  });

  it('gives a batch of several runs one run subsegment each, and the shared workflow', async () => {
    const handler = traceRuns(tracer, runsOfEvent, async () => undefined);

    await inTrace(facade, () => handler(sqsEvent(report('o-1'), report('o-2'), 'not json', report('o-1'))));

    expect(invocation()?.annotations).toMatchObject({ workflow: 'order' });
    expect(invocation()?.annotations?.uid).toBeUndefined();
    const runs = invocation()?.subsegments?.filter((s) => s.name === 'run') ?? [];
    expect(runs.map((s) => s.annotations)).toEqual([
      { workflow: 'order', uid: 'o-1' },
      { workflow: 'order', uid: 'o-2' },
    ]);
  });

  it('annotates a direct invocation (the start function) from the request itself', async () => {
    const handler = traceRuns(tracer, runsOfEvent, async () => undefined);

    await inTrace(facade, () => handler({ workflow: 'order', uid: 'o-9', metadata: { total: 5 } }));

    expect(invocation()?.annotations).toMatchObject({ workflow: 'order', uid: 'o-9' });
  });

  it('closes the subsegment and rethrows when the handler fails, and restores the facade', async () => {
    const handler = traceRuns(tracer, runsOfEvent, async () => {
      throw new Error('boom');
    });

    await expect(inTrace(facade, () => handler(sqsEvent(report('o-1'))))).rejects.toThrow('boom');

    const node = invocation() as unknown as { in_progress?: boolean; fault?: boolean; error?: boolean };
    expect(node.in_progress).toBeFalsy();
    expect(node.fault === true || node.error === true).toBe(true);
  });
});

describe('traceRuns with tracing off', () => {
  it('calls the handler as is and adds nothing to the trace', async () => {
    vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs24.x');
    const tracer = new Tracer({ serviceName: 'plugboard-start', enabled: false });
    const facade = new AWSXRay.Segment('plugboard-start');
    const inner = vi.fn(async (event: unknown) => event);
    const handler = traceRuns(tracer, runsOfEvent, inner);

    const answer = await inTrace(facade, () => handler({ workflow: 'order', uid: 'o-1' }));

    expect(answer).toEqual({ workflow: 'order', uid: 'o-1' });
    expect(inner).toHaveBeenCalledOnce();
    expect((facade as unknown as TraceNode).subsegments ?? []).toEqual([]);
    vi.unstubAllEnvs();
  });

  it('is off outside Lambda whatever the tracer was asked for (Powertools decides)', () => {
    vi.stubEnv('AWS_EXECUTION_ENV', '');
    expect(new Tracer({ serviceName: 'x', enabled: true }).isTracingEnabled()).toBe(false);
    vi.unstubAllEnvs();
  });
});
