import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type FunctionDefinition,
  type InvocationResult,
  LambdaRunner,
  type LocalCloud,
  type RunnerLogEntry,
} from '../../local/index.js';
import {
  CJS_HANDLERS,
  FIXTURE_ASSEMBLY,
  field,
  readSink,
  runnerFunction,
  startLocalCloud,
} from '../fixtures/local/harness.js';
import { motoClientConfig, useMoto } from '../support/moto.js';

const moto = useMoto();
let local: LocalCloud;
const logs: RunnerLogEntry[] = [];
let lambda: LambdaClient;

function payloadOf(bytes: Uint8Array | undefined): unknown {
  return JSON.parse(Buffer.from(bytes ?? new Uint8Array()).toString('utf8'));
}

function okPayload(result: InvocationResult): unknown {
  if (!result.ok) throw new Error(`${result.error.errorType}: ${result.error.errorMessage}`);
  return result.payload;
}

/** The largest number of [start, end] intervals that overlap at one instant. */
function maxOverlap(intervals: readonly { start: number; end: number }[]): number {
  const edges = intervals.flatMap(({ start, end }) => [
    { at: start, delta: 1 },
    { at: end, delta: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let current = 0;
  let max = 0;
  for (const edge of edges) {
    current += edge.delta;
    max = Math.max(max, current);
  }
  return max;
}

function interval(result: InvocationResult): { start: number; end: number } {
  const payload = okPayload(result);
  return { start: Number(field(payload, 'start')), end: Number(field(payload, 'end')) };
}

function definition(
  name: string,
  handler: string,
  overrides: Partial<FunctionDefinition> = {},
): FunctionDefinition {
  return runnerFunction(name, CJS_HANDLERS, { handler, timeoutSeconds: 5, ...overrides });
}

async function withRunner<T>(
  options: { globalConcurrency?: number; defaultConcurrency?: number },
  work: (runner: LambdaRunner) => Promise<T>,
): Promise<T> {
  const runner = await LambdaRunner.start({
    cloud: { endpoint: moto.endpoint, region: 'us-east-1', accountId: '123456789012' },
    onLog: () => {},
    // A loaded machine may take seconds to load a bundle; no test here is about the init limit.
    initTimeoutMs: 60_000,
    ...options,
  });
  try {
    return await work(runner);
  } finally {
    await runner.stop();
  }
}

/**
 * Makes sure `count` execution environments of a function are up: `count` invocations at once each
 * need one. Tests that measure invocations warm up first, so that a cold start (seconds on a loaded
 * machine) neither counts in a duration nor keeps apart invocations the limits would let overlap.
 */
async function warmUp(
  invoke: (target: string, event: unknown) => Promise<InvocationResult>,
  target: string,
  count: number,
): Promise<void> {
  const results = await Promise.all(Array.from({ length: count }, () => invoke(target, { ms: 0 })));
  for (const result of results) okPayload(result);
}

/**
 * Collects the exit of every worker thread (execution environment) started while it listens, through
 * the process-wide 'worker' event.
 */
function watchWorkerExits(): { readonly exits: Promise<number>[]; stop(): void } {
  const exits: Promise<number>[] = [];
  const onWorker = (worker: Worker) => {
    exits.push(new Promise((resolve) => worker.once('exit', resolve)));
  };
  process.on('worker', onWorker);
  return { exits, stop: () => process.off('worker', onWorker) };
}

beforeAll(async () => {
  local = await startLocalCloud(moto.endpoint, {
    forwardMetrics: true,
    scheduleSpeedUp: 1,
    onLog: (entry) => logs.push(entry),
  });
  await local.deploy(FIXTURE_ASSEMBLY);
  lambda = new LambdaClient({ ...motoClientConfig(local.lambdaEndpoint), maxAttempts: 1 });
}, 120_000);

afterAll(async () => {
  lambda?.destroy();
  await local?.stop();
});

describe('the Lambda Invoke endpoint', () => {
  it('answers a RequestResponse invocation with the function result, by name and by ARN', async () => {
    const byName = await lambda.send(
      new InvokeCommand({ FunctionName: 'fixture-echo', Payload: JSON.stringify({ hello: 'world' }) }),
    );
    const byArn = await lambda.send(
      new InvokeCommand({
        FunctionName: 'arn:aws:lambda:us-east-1:123456789012:function:fixture-echo',
        Payload: JSON.stringify({ hello: 'arn' }),
      }),
    );

    expect(byName.StatusCode).toBe(200);
    expect(byName.FunctionError).toBeUndefined();
    expect(byName.ExecutedVersion).toBe('$LATEST');
    expect(payloadOf(byName.Payload)).toMatchObject({
      event: { hello: 'world' },
      functionName: 'fixture-echo',
    });
    expect(payloadOf(byArn.Payload)).toMatchObject({ event: { hello: 'arn' } });
  });

  it('reports a thrown error as X-Amz-Function-Error Unhandled with the error payload', async () => {
    const response = await lambda.send(
      new InvokeCommand({ FunctionName: 'fixture-echo', Payload: JSON.stringify({ fail: 'nope' }) }),
    );

    expect(response.StatusCode).toBe(200);
    expect(response.FunctionError).toBe('Unhandled');
    expect(payloadOf(response.Payload)).toMatchObject({ errorType: 'EchoFailure', errorMessage: 'nope' });
  });

  it('answers an unknown function with ResourceNotFoundException', async () => {
    await expect(lambda.send(new InvokeCommand({ FunctionName: 'no-such-function' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('accepts an Event invocation with 202 and runs it in the background', async () => {
    const sqs = new SQSClient(motoClientConfig(moto.endpoint));
    const sink = local.deployer.stack('fixture-core')?.resources.get('EchoSink')?.physicalId ?? '';

    const response = await lambda.send(
      new InvokeCommand({
        FunctionName: 'fixture-echo',
        InvocationType: 'Event',
        Payload: JSON.stringify({ record: true, marker: 'async-1' }),
      }),
    );
    const recorded = await readSink(sqs, sink, (bodies) => bodies.length >= 1);

    expect(response.StatusCode).toBe(202);
    expect(recorded.map((body) => field(body.event, 'marker'))).toEqual(['async-1']);
  });

  it('returns the tail of the log with LogType Tail, and 204 for a DryRun', async () => {
    const tailed = await lambda.send(new InvokeCommand({ FunctionName: 'fixture-echo', LogType: 'Tail' }));
    const dryRun = await lambda.send(
      new InvokeCommand({ FunctionName: 'fixture-echo', InvocationType: 'DryRun' }),
    );

    expect(Buffer.from(tailed.LogResult ?? '', 'base64').toString('utf8')).toMatch(/echo invocation \d+/);
    expect(dryRun.StatusCode).toBe(204);
  });

  it('answers 429 TooManyRequestsException for a function with reserved concurrency 0', async () => {
    await withRunner({}, async (runner) => {
      runner.register(definition('throttled', 'index.echo', { reservedConcurrency: 0 }));
      const client = new LambdaClient({ ...motoClientConfig(runner.endpoint), maxAttempts: 1 });

      await expect(client.send(new InvokeCommand({ FunctionName: 'throttled' }))).rejects.toMatchObject({
        name: 'TooManyRequestsException',
        $metadata: { httpStatusCode: 429 },
      });
      client.destroy();
    });
  });
});

describe('execution environments', () => {
  it('terminates an invocation that passes its timeout and reports Sandbox.Timedout', async () => {
    // A warm environment: the measured duration is then the invocation's alone, not a cold start's.
    await warmUp((target, event) => local.invoke(target, event), 'fixture-slow', 1);

    const timedOut = await local.invoke('fixture-slow', { ms: 3000 });
    const next = await local.invoke('fixture-slow', { ms: 10 });

    expect(timedOut.ok).toBe(false);
    if (timedOut.ok) return;
    expect(timedOut.timedOut).toBe(true);
    expect(timedOut.error.errorType).toBe('Sandbox.Timedout');
    expect(timedOut.error.errorMessage).toMatch(/Task timed out after 1.00 seconds/);
    expect(timedOut.durationMs).toBeGreaterThanOrEqual(1000);
    expect(timedOut.durationMs).toBeLessThan(2000);
    expect(next.ok).toBe(true);
    expect(next.coldStart).toBe(true);
  });

  it('runs at most the reserved concurrency of a function at once', async () => {
    await warmUp((target, event) => local.invoke(target, event), 'fixture-slow', 2);

    const results = await Promise.all(
      Array.from({ length: 6 }, () => local.invoke('fixture-slow', { ms: 300 })),
    );

    expect(maxOverlap(results.map(interval))).toBe(2);
    expect(local.runner.stats('fixture-slow')).toMatchObject({ concurrencyLimit: 2, maxRunning: 2 });
  });

  it('caps a function without reserved concurrency at the default limit', async () => {
    await withRunner({ defaultConcurrency: 3 }, async (runner) => {
      runner.register(definition('default-limit', 'index.slow'));
      await warmUp((target, event) => runner.invoke(target, event), 'default-limit', 3);

      const results = await Promise.all(
        Array.from({ length: 7 }, () => runner.invoke('default-limit', { ms: 250 })),
      );

      expect(maxOverlap(results.map(interval))).toBe(3);
    });
  });

  it('caps all functions together at the global limit', async () => {
    await withRunner({ globalConcurrency: 2 }, async (runner) => {
      runner.register(definition('global-a', 'index.slow'));
      runner.register(definition('global-b', 'index.slow'));
      // Two environments each: the two invocations running at a time may be of the same function.
      await warmUp((target, event) => runner.invoke(target, event), 'global-a', 2);
      await warmUp((target, event) => runner.invoke(target, event), 'global-b', 2);

      const results = await Promise.all(
        ['global-a', 'global-b', 'global-a', 'global-b', 'global-a', 'global-b'].map((name) =>
          runner.invoke(name, { ms: 250 }),
        ),
      );

      expect(maxOverlap(results.map(interval))).toBe(2);
    });
  });

  it('gives every function its own environment variables and every environment its own module state', async () => {
    await withRunner({}, async (runner) => {
      runner.register(definition('iso-a', 'index.echo', { environment: { FIXTURE_X: 'a' } }));
      runner.register(definition('iso-b', 'index.echo', { environment: { FIXTURE_X: 'b' } }));

      const a1 = okPayload(await runner.invoke('iso-a', {}));
      const a2 = okPayload(await runner.invoke('iso-a', {}));
      const b1 = okPayload(await runner.invoke('iso-b', {}));
      const concurrent = await Promise.all([
        runner.invoke('iso-b', { sleepMs: 200 }),
        runner.invoke('iso-b', { sleepMs: 200 }),
      ]);

      expect(field(field(a1, 'env'), 'FIXTURE_X')).toBe('a');
      expect(field(field(b1, 'env'), 'FIXTURE_X')).toBe('b');
      expect(field(field(a1, 'env'), 'AWS_LAMBDA_FUNCTION_NAME')).toBe('iso-a');
      expect(field(field(a1, 'env'), 'AWS_ENDPOINT_URL')).toBe(moto.endpoint);
      expect(field(field(a1, 'env'), 'AWS_ENDPOINT_URL_LAMBDA')).toBe(runner.endpoint);
      expect(process.env.FIXTURE_X).toBeUndefined();
      expect([field(a1, 'invocations'), field(a2, 'invocations')]).toEqual([1, 2]);
      expect(concurrent.map((result) => field(okPayload(result), 'invocations')).sort()).toEqual([1, 2]);
      expect(runner.stats('iso-b').environments).toBe(2);
    });
  });

  it('replaces an execution environment that died after its handler returned', async () => {
    await withRunner({}, async (runner) => {
      runner.register(definition('crash-later', 'index.crashLater'));

      const workers = watchWorkerExits();
      let first: InvocationResult;
      try {
        first = await runner.invoke('crash-later', {});
      } finally {
        workers.stop();
      }
      // The timer throws 10 ms after the handler returned: wait until that thread has exited.
      await Promise.all(workers.exits);
      const second = await runner.invoke('crash-later', {});

      expect(workers.exits).toHaveLength(1);
      expect(first).toMatchObject({ ok: true, payload: 'returned', coldStart: true });
      expect(second).toMatchObject({ ok: true, payload: 'returned', coldStart: true });
    });
  });

  it('reports a missing handler export and a missing module as Lambda init errors', async () => {
    await withRunner({}, async (runner) => {
      runner.register(definition('no-export', 'index.nothing'));
      runner.register(definition('no-module', 'missing.handler'));

      const noExport = await runner.invoke('no-export', {});
      const noModule = await runner.invoke('no-module', {});

      expect(noExport).toMatchObject({ ok: false, error: { errorType: 'Runtime.HandlerNotFound' } });
      expect(noModule).toMatchObject({ ok: false, error: { errorType: 'Runtime.ImportModuleError' } });
    });
  });
});

describe('bundles outside the project', () => {
  let outside: string;

  beforeAll(async () => {
    outside = await mkdtemp(join(tmpdir(), 'plugboard-bundle-'));
    await cp(CJS_HANDLERS, join(outside, 'cjs'), { recursive: true });
    await writeFile(
      join(outside, 'esm.mjs'),
      "import { SQSClient } from '@aws-sdk/client-sqs';\nexport const handler = async () => typeof SQSClient;\n",
    );
    await writeFile(
      join(outside, 'typed.js'),
      'export const handler = async () => import.meta.url.startsWith("file:");\n',
    );
    await writeFile(join(outside, 'package.json'), JSON.stringify({ type: 'module' }));
    await writeFile(
      join(outside, 'borrow.mjs'),
      "import { z } from 'zod';\nexport const handler = async () => typeof z;\n",
    );
  });

  afterAll(async () => {
    await rm(outside, { recursive: true, force: true });
  });

  it('loads CJS and ESM bundles that leave @aws-sdk external, as the Lambda runtime provides it', async () => {
    await withRunner({}, async (runner) => {
      runner.register(definition('outside-cjs', 'index.slow', { codeDirectory: join(outside, 'cjs') }));
      runner.register(definition('outside-esm', 'esm.handler', { codeDirectory: outside }));
      runner.register(definition('outside-typed', 'typed.handler', { codeDirectory: outside }));

      expect(await runner.invoke('outside-cjs', { ms: 1 })).toMatchObject({ ok: true });
      expect(await runner.invoke('outside-esm', {})).toMatchObject({ ok: true, payload: 'function' });
      expect(await runner.invoke('outside-typed', {})).toMatchObject({ ok: true, payload: true });
    });
  });

  it('does not lend the project its other packages (a bundle that imports zod fails as on Lambda)', async () => {
    await withRunner({}, async (runner) => {
      runner.register(definition('outside-borrow', 'borrow.handler', { codeDirectory: outside }));

      const result = await runner.invoke('outside-borrow', {});

      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.errorMessage).toMatch(/zod/);
    });
  });
});

describe('logs, metrics and asynchronous failures', () => {
  it('prints function output with a function-name prefix only in verbose mode', async () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      for (const verbose of [false, true]) {
        const runner = await LambdaRunner.start({
          cloud: { endpoint: moto.endpoint, region: 'us-east-1', accountId: '123456789012' },
          verbose,
        });
        runner.register(definition(verbose ? 'loud' : 'quiet', 'index.echo'));
        await runner.invoke(verbose ? 'loud' : 'quiet', {});
        await runner.stop();
      }
    } finally {
      spy.mockRestore();
    }
    const output = written.join('');

    expect(output).not.toContain('[quiet]');
    expect(output).not.toContain('REPORT quiet');
    expect(output).toMatch(/\[loud\] echo invocation 1\n/);
    expect(output).toMatch(/REPORT loud RequestId: \S+ Duration: \d+ ms \(cold start\) ok/);
  });

  it('captures function output as log lines tagged with the function name and request ID', async () => {
    const result = await local.invoke('fixture-echo', {});
    const lines = logs.filter(
      (entry) =>
        entry.kind === 'function' &&
        entry.functionName === 'fixture-echo' &&
        entry.requestId === result.requestId,
    );

    expect(lines.map((entry) => (entry.kind === 'function' ? entry.line : ''))).toEqual([
      expect.stringMatching(/^echo invocation \d+$/),
    ]);
  });

  it('forwards EMF metric lines to CloudWatch with PutMetricData', async () => {
    const cloudwatch = new CloudWatchClient(motoClientConfig(moto.endpoint));
    const started = new Date(Date.now() - 60_000);

    await local.invoke('fixture-echo', { emf: 3 });
    await local.runner.settle();
    const statistics = await cloudwatch.send(
      new GetMetricStatisticsCommand({
        Namespace: 'FixtureLocal',
        MetricName: 'Echoes',
        Dimensions: [{ Name: 'service', Value: 'echo' }],
        StartTime: started,
        EndTime: new Date(Date.now() + 60_000),
        Period: 60,
        Statistics: ['Sum'],
      }),
    );

    expect(local.runner.emfDocuments('fixture-echo')).toHaveLength(1);
    expect(statistics.Datapoints?.reduce((sum, point) => sum + (point.Sum ?? 0), 0)).toBe(3);
  });

  it('retries a failed asynchronous invocation twice, then sends the event to the function DLQ', async () => {
    const sqs = new SQSClient(motoClientConfig(moto.endpoint));
    const dlq = local.deployer.stack('fixture-core')?.resources.get('EchoDeadLetterQueue')?.physicalId ?? '';
    const before = local.runner.stats('fixture-echo').errors;

    local.runner.invokeAsync('fixture-echo', { fail: 'always', marker: 'to-dlq' });
    await local.runner.settle();
    const dead = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlq, WaitTimeSeconds: 2, MessageAttributeNames: ['All'] }),
    );

    expect(local.runner.stats('fixture-echo').errors - before).toBe(3);
    expect(dead.Messages?.map((message) => JSON.parse(message.Body ?? '{}'))).toEqual([
      { fail: 'always', marker: 'to-dlq' },
    ]);
    expect(dead.Messages?.[0]?.MessageAttributes?.ErrorMessage?.StringValue).toBe('EchoFailure: always');
  });
});
