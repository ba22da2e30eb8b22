/**
 * `plugboard plugins` health: liveness classification at its boundaries (an injected clock), what
 * counts as a report, the GetMetricData batching and paging, and the metric identity a stage
 * orchestrator really emits.
 */
import {
  CloudWatchClient,
  type GetMetricDataCommandInput,
  type GetMetricDataCommandOutput,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { healthSettings } from '../../bin/cli/commands/plugins.js';
import { UsageError } from '../../bin/cli/errors.js';
import {
  classifyPlugin,
  formatAgo,
  isAccessDenied,
  metricsProblem,
  type PluginKey,
  type PluginSeries,
  pluginMetricRequests,
  readPluginHealth,
  reportMinutes,
  summarizePlugin,
  windowRange,
} from '../../bin/cli/plugin-health.js';
import {
  createObservability,
  METRIC_NAMES,
  METRICS_NAMESPACE,
} from '../../lambdas/handlers/observability.js';
import { ENV, orchestratorEnvironment } from '../../lib/orchestrator-environment.js';
import {
  getMetricData,
  MAX_QUERIES_PER_REQUEST,
  MetricDataError,
  type MetricRequest,
} from '../../metrics/metric-data.js';

const MIN = 60_000;
const NOW = new Date('2026-11-23T10:00:30.000Z');
/** Epoch ms `minutes` before NOW. */
const ago = (minutes: number) => NOW.getTime() - minutes * MIN;
const THRESHOLDS = { inactiveMinutes: 10, stuckMinutes: 20 };
const SETTINGS = { ...THRESHOLDS, windowMinutes: 1440 };
const REF = { systemName: 'plugboard', stage: 'dev' };

const series = (overrides: Partial<PluginSeries> = {}): PluginSeries => ({
  finished: [],
  errors: [],
  timeouts: [],
  retries: [],
  ...overrides,
});

describe('classifyPlugin', () => {
  it.each([
    ['just reported', 0, 'live'],
    ['a millisecond short of the inactive threshold', 10 - 1 / MIN, 'live'],
    ['exactly the inactive threshold', 10, 'inactive'],
    ['a millisecond short of the stuck threshold', 20 - 1 / MIN, 'inactive'],
  ])('is %s (%s min) → %s, regardless of stage traffic', (_what, minutes, expected) => {
    const lastSeen = ago(minutes as number);

    expect(classifyPlugin({ lastSeen }, NOW, THRESHOLDS)).toBe(expected);
    expect(classifyPlugin({ lastSeen, lastTraffic: ago(0) }, NOW, THRESHOLDS)).toBe(expected);
  });

  it('is offline from exactly the stuck threshold when its stage had traffic since', () => {
    expect(classifyPlugin({ lastSeen: ago(20), lastTraffic: ago(1) }, NOW, THRESHOLDS)).toBe('offline');
  });

  it('is idle from the stuck threshold when its stage had no traffic in that time', () => {
    expect(classifyPlugin({ lastSeen: ago(20) }, NOW, THRESHOLDS)).toBe('idle');
    // Traffic exactly stuckMinutes ago is not within the last stuckMinutes.
    expect(classifyPlugin({ lastSeen: ago(30), lastTraffic: ago(20) }, NOW, THRESHOLDS)).toBe('idle');
    expect(classifyPlugin({ lastSeen: ago(30), lastTraffic: ago(20 - 1 / MIN) }, NOW, THRESHOLDS)).toBe(
      'offline',
    );
  });

  it('classifies a plugin never seen in the window by its stage traffic alone', () => {
    expect(classifyPlugin({}, NOW, THRESHOLDS)).toBe('idle');
    expect(classifyPlugin({ lastTraffic: ago(5) }, NOW, THRESHOLDS)).toBe('offline');
  });

  it('honours configured thresholds', () => {
    const tight = { inactiveMinutes: 2, stuckMinutes: 3 };

    expect(classifyPlugin({ lastSeen: ago(1) }, NOW, tight)).toBe('live');
    expect(classifyPlugin({ lastSeen: ago(2) }, NOW, tight)).toBe('inactive');
    expect(classifyPlugin({ lastSeen: ago(3), lastTraffic: ago(0) }, NOW, tight)).toBe('offline');
  });
});

describe('reportMinutes', () => {
  it('does not count a timed-out attempt as a report, though it has a duration', () => {
    const t = ago(5);

    expect(reportMinutes(series({ finished: [{ t, v: 1 }], timeouts: [{ t, v: 1 }] }))).toEqual([]);
    expect(reportMinutes(series({ finished: [{ t, v: 2 }], timeouts: [{ t, v: 1 }] }))).toEqual([t]);
  });

  it('counts an error report even without a duration, in time order', () => {
    expect(reportMinutes(series({ finished: [{ t: ago(1), v: 1 }], errors: [{ t: ago(7), v: 1 }] }))).toEqual(
      [ago(7), ago(1)],
    );
  });
});

describe('summarizePlugin', () => {
  it('is offline when another plugin of its stage reported after it went quiet', () => {
    const own = series({ finished: [{ t: ago(45), v: 1 }] });
    const sibling = series({ finished: [{ t: ago(2), v: 3 }] });

    const health = summarizePlugin(own, [sibling], false, NOW, SETTINGS);

    expect(health.liveness).toBe('offline');
    expect(health.lastSeen?.getTime()).toBe(ago(45));
  });

  it('ignores the other plugins of its stage for a filtered plugin, but not its own timeouts', () => {
    const sibling = series({ finished: [{ t: ago(2), v: 3 }] });

    expect(summarizePlugin(series(), [sibling], true, NOW, SETTINGS).liveness).toBe('idle');
    expect(
      summarizePlugin(series({ retries: [{ t: ago(4), v: 1 }] }), [sibling], true, NOW, SETTINGS).liveness,
    ).toBe('offline');
  });

  it('is offline when it only timed out: a plugin that never reports is never seen', () => {
    const own = series({ finished: [{ t: ago(3), v: 1 }], timeouts: [{ t: ago(3), v: 1 }] });

    const health = summarizePlugin(own, [], false, NOW, SETTINGS);

    expect(health).toEqual({ liveness: 'offline', reports: 0, errors: 0, timeouts: 1 });
  });

  it('counts reports, errors and timeouts of the last hour only', () => {
    const own = series({
      // 59 minutes ago is inside the last hour, 60 minutes ago is not.
      finished: [
        { t: ago(60), v: 5 },
        { t: ago(59), v: 2 },
        { t: ago(1), v: 3 },
      ],
      errors: [
        { t: ago(60), v: 4 },
        { t: ago(1), v: 1 },
      ],
      timeouts: [{ t: ago(59), v: 1 }],
    });

    const health = summarizePlugin(own, [], false, NOW, SETTINGS);

    expect(health).toMatchObject({ liveness: 'live', reports: 4, errors: 1, timeouts: 1 });
    expect(health.lastSeen?.getTime()).toBe(ago(1));
  });

  it('counts over the whole window when it is shorter than an hour', () => {
    const own = series({ finished: [{ t: ago(25), v: 2 }] });

    expect(summarizePlugin(own, [], false, NOW, { ...SETTINGS, windowMinutes: 30 }).reports).toBe(2);
    expect(summarizePlugin(own, [], false, NOW, { ...SETTINGS, windowMinutes: 20 }).reports).toBe(0);
  });
});

describe('windowRange', () => {
  it('covers the current minute and the window minus one before it, on minute boundaries', () => {
    const { from, to } = windowRange(NOW, 1440);

    expect(to.toISOString()).toBe('2026-11-23T10:01:00.000Z');
    expect(from.toISOString()).toBe('2026-11-22T10:01:00.000Z');
    expect((to.getTime() - from.getTime()) / MIN).toBe(1440);
  });
});

describe('formatAgo', () => {
  it.each([
    [0.5, '<1m ago'],
    [3, '3m ago'],
    [59, '59m ago'],
    [100, '1h 40m ago'],
    [24 * 60 + 3 * 60, '1d 03h ago'],
  ])('%s minutes → %s', (minutes, text) => {
    expect(formatAgo(new Date(ago(minutes)), NOW)).toBe(text);
  });
});

describe('healthSettings', () => {
  const options = { window: '1440', inactiveMinutes: '10', stuckMinutes: '20' };

  it('reads the defaults', () => {
    expect(healthSettings(options)).toEqual({ windowMinutes: 1440, inactiveMinutes: 10, stuckMinutes: 20 });
  });

  it.each([
    [{ stuckMinutes: '10' }, /--stuck-minutes \(10\) must be more than --inactive-minutes \(10\)/],
    [{ window: '15' }, /--window \(15\) must be at least --stuck-minutes \(20\)/],
    [{ window: '30000' }, /--window must be a whole number from 1 to 21600/],
    [{ inactiveMinutes: 'ten' }, /--inactive-minutes must be a whole number/],
  ])('rejects %o as a usage error', (change, message) => {
    expect(() => healthSettings({ ...options, ...change })).toThrow(UsageError);
    expect(() => healthSettings({ ...options, ...change })).toThrow(message);
  });
});

/**
 * A CloudWatch client whose middleware answers GetMetricData instead of the network (the SDK's
 * paginator takes real clients only), and records every request it was sent.
 */
function answeringCloudWatch(
  respond: (input: GetMetricDataCommandInput) => Omit<GetMetricDataCommandOutput, '$metadata'>,
): CloudWatchClient & { readonly requests: GetMetricDataCommandInput[] } {
  const client = new CloudWatchClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const requests: GetMetricDataCommandInput[] = [];
  client.middlewareStack.add(
    () => async (args) => {
      // The paginator reuses one input object between pages: keep a copy of each.
      const input = { ...(args.input as GetMetricDataCommandInput) };
      requests.push(input);
      return { output: { ...respond(input), $metadata: {} }, response: {} };
    },
    { step: 'initialize', name: 'answerGetMetricData' },
  );
  return Object.assign(client, { requests });
}

/** A fake CloudWatch that answers every query with one point per minute in `data`, in pages of `pageSize` results. */
function fakeCloudWatch(
  answer: (metric: MetricRequest['dimensions'] & { metricName: string }) => MetricDataResult['Values'],
  pageSize = Number.POSITIVE_INFINITY,
) {
  return answeringCloudWatch((input) => {
    const queries = input.MetricDataQueries ?? [];
    const offset = Number(input.NextToken ?? 0);
    const page = queries.slice(offset, offset + pageSize);
    const next = offset + page.length < queries.length ? String(offset + page.length) : undefined;
    const results: MetricDataResult[] = page.map((q) => {
      const dims = Object.fromEntries(
        (q.MetricStat?.Metric?.Dimensions ?? []).map((d) => [d.Name ?? '', d.Value ?? '']),
      );
      const values = answer({ ...dims, metricName: q.MetricStat?.Metric?.MetricName ?? '' }) ?? [];
      return {
        Id: q.Id,
        StatusCode: 'Complete',
        Values: values,
        Timestamps: values.map(() => new Date(ago(2))),
      };
    });
    return { MetricDataResults: results, ...(next ? { NextToken: next } : {}) };
  });
}

const keys = (count: number): PluginKey[] =>
  Array.from({ length: count }, (_, i) => ({
    activity: `a${Math.floor(i / 10)}`,
    stage: 'parallel',
    plugin: `p${i}`,
    filtered: false,
  }));

describe('readPluginHealth', () => {
  it('reads every plugin of a small registry in one GetMetricData request', async () => {
    const cloudwatch = fakeCloudWatch(() => []);

    await readPluginHealth(cloudwatch, REF, keys(6), NOW, SETTINGS);

    expect(cloudwatch.requests).toHaveLength(1);
    expect(cloudwatch.requests[0]?.MetricDataQueries).toHaveLength(24);
  });

  it('splits many plugins into requests of at most 500 queries, reads every page, and maps points back', async () => {
    // p7 reported 2 minutes ago; every other plugin has no data.
    const cloudwatch = fakeCloudWatch(
      (m) => (m.plugin === 'p7' && m.metricName === METRIC_NAMES.pluginDuration ? [1] : []),
      200,
    );

    const health = await readPluginHealth(cloudwatch, REF, keys(130), NOW, SETTINGS);

    // 130 plugins × 4 metrics = 520 queries: 500 + 20, the first in pages of 200 (3 calls).
    const sizes = cloudwatch.requests.map((r) => r.MetricDataQueries?.length);
    expect(sizes).toEqual([500, 500, 500, 20]);
    expect(cloudwatch.requests.map((r) => r.NextToken)).toEqual([undefined, '200', '400', undefined]);
    const ids = cloudwatch.requests.flatMap((r, i) =>
      r.NextToken ? [] : (cloudwatch.requests[i]?.MetricDataQueries ?? []).map((q) => q.Id),
    );
    expect(new Set(ids).size).toBe(520);
    expect(health).toHaveLength(130);
    expect(health[7]).toMatchObject({ liveness: 'live', reports: 1 });
    expect(health[7]?.lastSeen?.getTime()).toBe(ago(2));
    // The other plugins of p7's activity stage had traffic; those of other stages did not.
    expect(health[8]?.liveness).toBe('offline');
    expect(health[12]?.liveness).toBe('idle');
  });

  it('asks for nothing when no plugin is registered', async () => {
    const cloudwatch = fakeCloudWatch(() => []);

    expect(await readPluginHealth(cloudwatch, REF, [], NOW, SETTINGS)).toEqual([]);
    expect(cloudwatch.requests).toHaveLength(0);
  });
});

describe('getMetricData', () => {
  it('asks for minute points on the whole range, oldest first', async () => {
    const cloudwatch = fakeCloudWatch(() => [1]);
    const range = windowRange(NOW, 60);

    const [points] = await getMetricData(
      cloudwatch,
      pluginMetricRequests(REF, keys(1)[0] as PluginKey),
      range,
    );

    const input = cloudwatch.requests[0];
    expect(input?.StartTime).toEqual(range.from);
    expect(input?.EndTime).toEqual(range.to);
    expect(input?.ScanBy).toBe('TimestampAscending');
    expect(input?.MetricDataQueries?.every((q) => q.MetricStat?.Period === 60)).toBe(true);
    expect(points).toEqual([{ t: ago(2), v: 1 }]);
    expect(MAX_QUERIES_PER_REQUEST).toBe(500);
  });

  it('fails with the status when CloudWatch forbids a query', async () => {
    const forbidden = answeringCloudWatch((input) => ({
      MetricDataResults: (input.MetricDataQueries ?? []).map((q) => ({
        Id: q.Id,
        StatusCode: 'Forbidden',
        Messages: [{ Code: 'Forbidden', Value: 'not authorized' }],
      })),
    }));

    const reading = readPluginHealth(forbidden, REF, keys(1), NOW, SETTINGS);

    await expect(reading).rejects.toThrow(MetricDataError);
    await expect(reading).rejects.toThrow(/Forbidden.*not authorized/);
  });
});

describe('metricsProblem', () => {
  const sdkError = (name: string, status: number) =>
    Object.assign(new Error('User: arn:aws:iam::1:user/ops is not authorized'), {
      name,
      $metadata: { httpStatusCode: status },
    });

  it('names the missing permission when access was denied', () => {
    expect(isAccessDenied(sdkError('AccessDenied', 403))).toBe(true);
    expect(isAccessDenied(new MetricDataError('x', 'Forbidden'))).toBe(true);
    expect(metricsProblem(sdkError('AccessDeniedException', 400))).toMatch(
      /denied \(AccessDeniedException: .*\)\. Grant cloudwatch:GetMetricData/,
    );
  });

  it('says what failed otherwise, without blaming permissions', () => {
    const throttled = sdkError('ThrottlingException', 400);

    expect(isAccessDenied(throttled)).toBe(false);
    expect(metricsProblem(throttled)).toMatch(/could not be read \(ThrottlingException: /);
    expect(metricsProblem(throttled)).not.toMatch(/Grant/);
  });
});

describe('the metrics a stage orchestrator emits', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('are exactly the names and dimension sets the plugins command reads', () => {
    // The environment the constructs give every orchestrator (POWERTOOLS_SERVICE_NAME included).
    const environment = orchestratorEnvironment({
      deployment: REF,
      tableName: 't',
      eventsTopicArn: 'arn:aws:sns:us-east-1:1:e',
      runtimeConfig: '{}',
    });
    vi.stubEnv(ENV.serviceName, environment[ENV.serviceName]);
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    vi.stubEnv('POWERTOOLS_DEV', 'true');
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
    const { observer } = createObservability('stage', REF.stage);
    const plugin = { workflow: 'order', activity: 'intake', stage: 'parallel', plugin: 'score' };

    observer.pluginFinished?.({ ...plugin, state: 'Error', durationMs: 12 });
    observer.pluginFinished?.({ ...plugin, state: 'Timed Out', durationMs: 90_000 });
    observer.pluginRetried?.({ ...plugin, attempt: 1, reason: 'x' });

    const emitted = lines
      .filter((line) => line.includes('"_aws"'))
      .flatMap((line) => {
        const doc = JSON.parse(line) as Record<string, unknown> & {
          _aws: {
            CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
          };
        };
        return doc._aws.CloudWatchMetrics.flatMap((directive) =>
          directive.Metrics.map((m) => ({
            namespace: directive.Namespace,
            metricName: m.Name,
            dimensions: Object.fromEntries(
              (directive.Dimensions[0] ?? []).map((name) => [name, String(doc[name])]),
            ),
          })),
        );
      });
    const read = pluginMetricRequests(REF, { ...plugin, filtered: false }).map(
      ({ namespace, metricName, dimensions }) => ({
        namespace,
        metricName,
        dimensions,
      }),
    );
    const key = (m: { metricName: string }) => m.metricName;
    expect([...new Set(emitted.map(key))].sort()).toEqual(read.map(key).sort());
    for (const metric of emitted) expect(read).toContainEqual(metric);
    expect(read[0]?.namespace).toBe(METRICS_NAMESPACE);
  });
});
