/**
 * `plugboard plugins` with last seen and liveness, read from moto's CloudWatch. The CLI harness runs
 * the handlers in this process and their EMF goes to stdout, not to CloudWatch, so the metrics are
 * made here: a real stage orchestrator's observer (with the environment the constructs give it)
 * emits the EMF lines, and each becomes a PutMetricData with the time the scenario needs.
 */
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudWatchClient, type MetricDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeLocalState } from '../../bin/cli/local-state.js';
import {
  createObservability,
  METRIC_NAMES,
  METRICS_NAMESPACE,
} from '../../lambdas/handlers/observability.js';
import { ENV, orchestratorEnvironment } from '../../lib/orchestrator-environment.js';
import { DIMENSIONS } from '../../metrics/names.js';
import { motoClientConfig, useMoto } from '../support/moto.js';
import { type CliWorld, createCliWorld, json, orchestraExports } from './cli-harness.js';

const moto = useMoto();
let world: CliWorld;
/** Start of the minute the metrics were put in: every scenario time is counted back from it. */
let base: number;
const MIN = 60_000;
/** The harness's deployment: `plugboard-dev`. */
const REF = { systemName: 'plugboard', stage: 'dev' };

interface Emf {
  readonly _aws: {
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit?: string }[];
    }[];
  };
  readonly [field: string]: unknown;
}

type Outcome =
  | { readonly kind: 'finished'; readonly state: 'Complete' | 'Error' | 'Timed Out' }
  | { readonly kind: 'retried' };

/**
 * What a stage orchestrator emits for these outcomes of one plugin, as PutMetricData data stamped
 * `minutesAgo` before `base` (plus 30 s, inside that minute).
 */
function emitted(
  plugin: { activity: string; stage: string; plugin: string },
  outcomes: readonly Outcome[],
  minutesAgo: number,
): { namespace: string; datum: MetricDatum }[] {
  const environment = orchestratorEnvironment({
    deployment: REF,
    tableName: 't',
    eventsTopicArn: 'arn:aws:sns:us-east-1:123456789012:e',
    runtimeConfig: '{}',
  });
  vi.stubEnv(ENV.serviceName, environment[ENV.serviceName]);
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  vi.stubEnv('POWERTOOLS_DEV', 'true');
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    lines.push(String(line));
  });
  try {
    const { observer } = createObservability('stage', REF.stage);
    const info = { workflow: 'order', ...plugin };
    for (const outcome of outcomes) {
      if (outcome.kind === 'finished')
        observer.pluginFinished?.({ ...info, state: outcome.state, durationMs: 40 });
      else observer.pluginRetried?.({ ...info, attempt: 1, reason: 'retryable' });
    }
  } finally {
    log.mockRestore();
    vi.unstubAllEnvs();
  }
  const timestamp = new Date(base - minutesAgo * MIN + 30_000);
  return lines
    .filter((line) => line.includes('"_aws"'))
    .flatMap((line) => {
      const doc = JSON.parse(line) as Emf;
      return doc._aws.CloudWatchMetrics.flatMap((directive) =>
        directive.Metrics.flatMap((metric) =>
          directive.Dimensions.map((names) => ({
            namespace: directive.Namespace,
            datum: {
              MetricName: metric.Name,
              Dimensions: names.map((Name) => ({ Name, Value: String(doc[Name]) })),
              Value: Number(doc[metric.Name]),
              Timestamp: timestamp,
            },
          })),
        ),
      );
    });
}

const intake = (stage: string, plugin: string) => ({ activity: 'intake', stage, plugin });
const fulfilment = (stage: string, plugin: string) => ({ activity: 'fulfilment', stage, plugin });
const complete: Outcome = { kind: 'finished', state: 'Complete' };

beforeAll(async () => {
  world = await createCliWorld(moto.endpoint);
  base = Math.floor(Date.now() / MIN) * MIN;
  const data = [
    // validate: three reports 2 minutes ago, one an error → live.
    ...emitted(intake('pre', 'validate'), [complete, complete, { kind: 'finished', state: 'Error' }], 2),
    // score reported a minute ago → live; enrich 14 minutes ago → inactive.
    ...emitted(intake('parallel', 'score'), [complete], 1),
    ...emitted(intake('parallel', 'enrich'), [complete], 14),
    // slow reported 45 minutes ago, was retried 8 and timed out 3 minutes ago → offline.
    ...emitted(intake('parallel', 'slow'), [complete], 45),
    ...emitted(intake('parallel', 'slow'), [{ kind: 'retried' }], 8),
    ...emitted(intake('parallel', 'slow'), [{ kind: 'finished', state: 'Timed Out' }], 3),
    // charge-card last reported 100 minutes ago and nothing ran since → idle; send-sms never → idle.
    ...emitted(fulfilment('parallel', 'charge-card'), [complete], 100),
  ];
  const cloudwatch = new CloudWatchClient(motoClientConfig(moto.endpoint));
  try {
    for (const namespace of new Set(data.map((d) => d.namespace))) {
      await cloudwatch.send(
        new PutMetricDataCommand({
          Namespace: namespace,
          MetricData: data.filter((d) => d.namespace === namespace).map((d) => d.datum),
        }),
      );
    }
  } finally {
    cloudwatch.destroy();
  }
});

afterAll(async () => {
  await world?.close();
});

interface HealthJson {
  plugins: {
    activity: string;
    stage: string;
    plugin: string;
    lastSeen: string | null;
    liveness: string;
    reports: number | null;
    errors: number | null;
    timeouts: number | null;
  }[];
  health: Record<string, unknown>;
}

describe('plugboard plugins: last seen and liveness from CloudWatch', () => {
  it('puts the metrics under exactly the names and dimensions of the observability module', () => {
    // The scenario depends on them: if the handlers' metrics drift, this fails before the rest does.
    const [datum] = emitted(intake('pre', 'validate'), [{ kind: 'finished', state: 'Error' }], 0);

    expect(datum?.namespace).toBe(METRICS_NAMESPACE);
    expect(datum?.datum.MetricName).toBe(METRIC_NAMES.pluginDuration);
    expect(datum?.datum.Dimensions).toEqual([
      { Name: DIMENSIONS.service, Value: REF.systemName },
      { Name: DIMENSIONS.deploymentStage, Value: REF.stage },
      { Name: DIMENSIONS.activity, Value: 'intake' },
      { Name: DIMENSIONS.stage, Value: 'pre' },
      { Name: DIMENSIONS.plugin, Value: 'validate' },
    ]);
  });

  it('shows LAST SEEN and LIVENESS columns per plugin', async () => {
    const result = await world.cli(['plugins']);

    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^ACTIVITY +STAGE +ORDER +PLUGIN +MANDATORY +DEADLINE +ATTEMPTS +LAST SEEN +LIVENESS +FILTER$/,
    );
    const row = (name: string) => lines.find((l) => l.includes(` ${name} `)) ?? '';
    // Up to three minutes of slack in each age: on a loaded machine the CLI may start a few minutes
    // after the metrics were put (the liveness values hold for far longer).
    expect(row('validate')).toMatch(
      /^intake +pre +10 +validate +mandatory +default +default +[2-5]m ago +live +-$/,
    );
    expect(row('score')).toMatch(/ score +mandatory +120s +2 +[1-4]m ago +live +-$/);
    expect(row('enrich')).toMatch(/ enrich +optional .* 1[4-7]m ago +inactive +-$/);
    expect(row('slow')).toMatch(/ slow +mandatory .* 4[5-8]m ago +offline +-$/);
    expect(row('charge-card')).toMatch(/ charge-card +mandatory .* 1h 4[0-3]m ago +idle +-$/);
    expect(row('send-sms')).toMatch(
      / send-sms +optional +default +default +- +idle +\{"channel":\["web","app"\]\}$/,
    );
  });

  it('adds lastSeen, liveness and the counts of the last hour to --json', async () => {
    const result = await world.cli(['plugins', '--json']);

    expect(result.code).toBe(0);
    const { plugins, health } = json<HealthJson>(result);
    const byName = Object.fromEntries(plugins.map((p) => [p.plugin, p]));
    expect(byName.validate).toMatchObject({ liveness: 'live', reports: 3, errors: 1, timeouts: 0 });
    expect(byName.validate?.lastSeen).toBe(new Date(base - 2 * MIN).toISOString());
    expect(byName.score).toMatchObject({ liveness: 'live', reports: 1 });
    expect(byName.enrich).toMatchObject({ liveness: 'inactive', reports: 1 });
    // The timed-out attempt has a duration too, but it is no report.
    expect(byName.slow).toMatchObject({ liveness: 'offline', reports: 1, errors: 0, timeouts: 1 });
    expect(byName.slow?.lastSeen).toBe(new Date(base - 45 * MIN).toISOString());
    expect(byName['charge-card']).toMatchObject({ liveness: 'idle', reports: 0, timeouts: 0 });
    expect(byName['charge-card']?.lastSeen).toBe(new Date(base - 100 * MIN).toISOString());
    expect(byName['send-sms']).toMatchObject({ liveness: 'idle', lastSeen: null, reports: 0 });
    expect(health).toMatchObject({
      windowMinutes: 1440,
      countMinutes: 60,
      inactiveMinutes: 10,
      stuckMinutes: 20,
    });
    expect(health).not.toHaveProperty('problem');
  });

  it('applies --window and the thresholds given', async () => {
    const result = await world.cli([
      'plugins',
      '--activity',
      'intake',
      '--window',
      '30',
      '--inactive-minutes',
      '16',
      '--stuck-minutes',
      '30',
      '--json',
    ]);

    const { plugins, health } = json<HealthJson>(result);
    const byName = Object.fromEntries(plugins.map((p) => [p.plugin, p.liveness]));
    // enrich (14-15 min) is live again; slow's report (45 min) is out of the window, its timeout is not.
    expect(byName).toEqual({ validate: 'live', score: 'live', enrich: 'live', slow: 'offline' });
    expect(plugins.find((p) => p.plugin === 'slow')?.lastSeen).toBeNull();
    expect(health).toMatchObject({ windowMinutes: 30, countMinutes: 30 });
  });

  it('refuses a window shorter than the stuck threshold as a usage error', async () => {
    const result = await world.cli(['plugins', '--window', '10']);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--window \(10\) must be at least --stuck-minutes \(20\)/);
  });
});

describe('plugboard plugins when CloudWatch denies GetMetricData', () => {
  let proxy: Server;
  let statePath: string;
  let denied = 0;

  beforeAll(async () => {
    // Everything goes to moto except GetMetricData, which gets the error an IAM denial gives.
    proxy = createServer((req, res) => {
      if (String(req.headers['x-amz-target'] ?? '').endsWith('.GetMetricData')) {
        denied += 1;
        req.resume();
        res.writeHead(400, {
          'content-type': 'application/x-amz-json-1.0',
          'x-amzn-query-error': 'AccessDenied;Sender',
        });
        res.end(
          JSON.stringify({
            __type: 'com.amazon.coral.service#AccessDeniedException',
            message:
              'User: arn:aws:iam::123456789012:user/ops is not authorized to perform: cloudwatch:GetMetricData',
          }),
        );
        return;
      }
      const target = new URL(moto.endpoint);
      const forward = request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (upstream) => {
          res.writeHead(upstream.statusCode ?? 502, upstream.headers);
          upstream.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    const { port } = proxy.address() as AddressInfo;
    statePath = `${world.statePath}.denied.json`;
    await writeLocalState(statePath, {
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      exports: orchestraExports(world.orchestra),
    });
  });

  afterAll(async () => {
    proxy.close();
    await once(proxy, 'close');
  });

  it('still lists the registry, marks liveness unknown and names the missing permission on stderr', async () => {
    const result = await world.cli(['plugins'], { env: { PLUGBOARD_LOCAL_STATE: statePath } });

    expect(result.code).toBe(0);
    expect(denied).toBeGreaterThan(0);
    expect(result.stderr).toMatch(
      /^plugboard: last seen and liveness unknown: .*denied.*Grant cloudwatch:GetMetricData/,
    );
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(7);
    expect(lines.slice(1).every((l) => / \? +unknown /.test(l))).toBe(true);
  });

  it('gives null health and the problem with --json, exit code unchanged', async () => {
    const result = await world.cli(['plugins', '--json'], { env: { PLUGBOARD_LOCAL_STATE: statePath } });

    expect(result.code).toBe(0);
    const { plugins, health } = json<HealthJson>(result);
    expect(plugins).toHaveLength(6);
    for (const p of plugins) {
      expect(p).toMatchObject({
        liveness: 'unknown',
        lastSeen: null,
        reports: null,
        errors: null,
        timeouts: null,
      });
    }
    expect(String(health.problem)).toMatch(/cloudwatch:GetMetricData/);
    expect(result.stderr).toMatch(/cloudwatch:GetMetricData/);
  });
});
