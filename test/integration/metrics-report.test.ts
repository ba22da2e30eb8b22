/**
 * The local metrics report against moto's CloudWatch: metrics are put the way they arrive in
 * production (the liveness sink, and EMF-shaped metrics with a `service` dimension per handler), read
 * back with ListMetrics/GetMetricData and rendered to one HTML file, which is parsed and checked panel
 * by panel.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchClient, type MetricDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../lambdas/engine/records.js';
import { CloudWatchMetricSink } from '../../metrics/cloudwatch-metric-sink.js';
import { livenessDatums } from '../../metrics/liveness.js';
import { PANEL_TITLES } from '../../metrics/panels.js';
import { renderMetricsReport, writeMetricsReport } from '../../metrics/report.js';
import type { ReportRunSource } from '../../metrics/report-runs.js';
import { motoClientConfig, useMoto } from '../support/moto.js';

const moto = useMoto();
const MIN = 60_000;
const T0 = Math.floor(Date.now() / MIN) * MIN - 45 * MIN;
const STAGE = 'demo';
const WORKFLOWS = ['order', 'refund'];

// ---- a small HTML parser: enough to walk the report's element tree and check it is well formed ----

interface Element {
  readonly name: string;
  readonly attributes: Record<string, string>;
  readonly children: Element[];
  text: string;
}

const VOID = new Set(['meta', 'link', 'br', 'img', 'input', 'hr']);

/** Parses well-formed HTML (as the report writes it); throws on a tag that closes out of order. */
function parseHtml(html: string): Element {
  const root: Element = { name: '#root', attributes: {}, children: [], text: '' };
  const stack: Element[] = [root];
  const withoutRaw = html
    .replace(/<!doctype[^>]*>/i, '')
    .replace(/<style>[\s\S]*?<\/style>/, '<style></style>');
  const token = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+(?:="[^"]*")?)*)\s*(\/?)>|([^<]+)/g;
  for (const match of withoutRaw.matchAll(token)) {
    const [, closing, name, rawAttributes, selfClosing, text] = match;
    const current = stack.at(-1);
    if (!current) throw new Error('unbalanced document');
    if (text !== undefined) {
      current.text += text;
      continue;
    }
    if (!name) continue;
    if (closing) {
      if (current.name !== name) throw new Error(`</${name}> closes <${current.name}>`);
      stack.pop();
      continue;
    }
    const attributes = Object.fromEntries(
      [...(rawAttributes ?? '').matchAll(/([\w:-]+)(?:="([^"]*)")?/g)].map((a) => [a[1] ?? '', a[2] ?? '']),
    );
    const element: Element = { name, attributes, children: [], text: '' };
    current.children.push(element);
    if (!selfClosing && !VOID.has(name)) stack.push(element);
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack.at(-1)?.name}>`);
  return root;
}

function all(element: Element, predicate: (e: Element) => boolean): Element[] {
  return [
    ...(predicate(element) ? [element] : []),
    ...element.children.flatMap((child) => all(child, predicate)),
  ];
}

const textOf = (e: Element): string => e.text + e.children.map(textOf).join('');

// ---- data ----

async function putEmf(
  cloudwatch: CloudWatchClient,
  metricName: string,
  dimensions: Record<string, string>,
  minute: number,
  values: readonly number[],
  unit: 'Count' | 'Milliseconds',
) {
  const datum: MetricDatum = {
    MetricName: metricName,
    Dimensions: Object.entries({ deploymentStage: STAGE, ...dimensions }).map(([Name, Value]) => ({
      Name,
      Value,
    })),
    Timestamp: new Date(T0 + minute * MIN + 1000),
    Values: [...values],
    Unit: unit,
  };
  await cloudwatch.send(new PutMetricDataCommand({ Namespace: 'Plugboard', MetricData: [datum] }));
}

async function seed(cloudwatch: CloudWatchClient): Promise<void> {
  const sink = new CloudWatchMetricSink({ client: cloudwatch, namespace: 'Plugboard' });
  for (let m = 0; m < 30; m += 1) {
    await sink.put(
      livenessDatums(STAGE, [
        {
          workflow: 'order',
          active: 3 + (m % 5),
          inactive: m >= 10 && m < 20 ? 1 : 0,
          stuck: m >= 20 ? 1 : 0,
        },
        { workflow: 'refund', active: m < 15 ? 1 : 0, inactive: 0, stuck: 0 },
      ]),
      new Date(T0 + m * MIN),
    );
    await putEmf(
      cloudwatch,
      'RunsStarted',
      { service: 'plugboard-start', workflow: 'order' },
      m,
      [1, 1],
      'Count',
    );
    if (m % 2 === 0) {
      await putEmf(
        cloudwatch,
        'RunsCompleted',
        { service: 'plugboard-notify-post', workflow: 'order' },
        m,
        [1],
        'Count',
      );
      await putEmf(
        cloudwatch,
        'RunDuration',
        { service: 'plugboard-notify-post', workflow: 'order' },
        m,
        [900 + m * 10, 2400],
        'Milliseconds',
      );
    }
    if (m % 10 === 3)
      await putEmf(
        cloudwatch,
        'RunsStarted',
        { service: 'plugboard-start', workflow: 'refund' },
        m,
        [1],
        'Count',
      );
  }
  // Failures come from two handlers (a stage orchestrator and the sweeper): one line per workflow.
  await putEmf(
    cloudwatch,
    'RunsFailed',
    { service: 'plugboard-fulfilment-parallel', workflow: 'order' },
    12,
    [1],
    'Count',
  );
  await putEmf(
    cloudwatch,
    'RunsFailed',
    { service: 'plugboard-sweeper', workflow: 'order' },
    12,
    [1],
    'Count',
  );
  await putEmf(
    cloudwatch,
    'RunsFailed',
    { service: 'plugboard-sweeper', workflow: 'order' },
    25,
    [1],
    'Count',
  );
  await putEmf(
    cloudwatch,
    'RunsCancelled',
    { service: 'plugboard-start', workflow: 'order' },
    26,
    [1],
    'Count',
  );
  for (const activity of ['intake', 'fulfilment', 'notify']) {
    for (const [i, stage] of ['pre', 'parallel', 'post'].entries()) {
      const service = `plugboard-${activity}-${stage}`;
      const dims = { service, workflow: 'order', activity, stage };
      await putEmf(cloudwatch, 'StageDuration', dims, 5, [100 + i * 200, 150 + i * 200, 900], 'Milliseconds');
      await putEmf(cloudwatch, 'StageOverhead', dims, 5, [20 + i, 25 + i, 60], 'Milliseconds');
    }
  }
  const plugin = (name: string) => ({
    service: 'plugboard-fulfilment-parallel',
    activity: 'fulfilment',
    stage: 'parallel',
    plugin: name,
  });
  await putEmf(cloudwatch, 'PluginDuration', plugin('charge-card'), 7, [300, 420, 5200], 'Milliseconds');
  await putEmf(cloudwatch, 'PluginDuration', plugin('reserve-stock'), 9, [80, 95], 'Milliseconds');
  await putEmf(cloudwatch, 'PluginErrors', plugin('charge-card'), 7, [1, 1, 1], 'Count');
  await putEmf(cloudwatch, 'PluginErrors', plugin('reserve-stock'), 9, [1], 'Count');
  await putEmf(cloudwatch, 'PluginTimeouts', plugin('reserve-stock'), 11, [1, 1], 'Count');
}

/** A run of `order` as the status table holds it. */
function runRecord(uid: string, fields: Partial<RunRecord>): RunRecord {
  return {
    workflow: 'order',
    uid,
    state: 'In Progress',
    generation: 1,
    activities: ['intake', 'fulfilment', 'notify'],
    metadata: {},
    createdAt: new Date(T0).toISOString(),
    updatedAt: new Date(T0).toISOString(),
    stateTimes: {},
    ...fields,
  };
}

/** The status table the report reads: 2 runs active now; 2 failed in the range, 1 before it. */
const RUNS: ReportRunSource = {
  listActiveRuns: async (workflow) => ({
    runs: workflow === 'order' ? [runRecord('o-live-1', {}), runRecord('o-live-2', {})] : [],
  }),
  listRuns: async (workflow) => ({
    runs:
      workflow === 'order'
        ? [
            runRecord('o-late', {
              state: 'Error',
              createdAt: new Date(T0 + 24 * MIN).toISOString(),
              endedAt: new Date(T0 + 25 * MIN).toISOString(),
              position: { activity: 'fulfilment', stage: 'parallel' },
              message: 'fulfilment/parallel: charge-card: card declined',
            }),
            runRecord('o-fine', { state: 'Complete', endedAt: new Date(T0 + 20 * MIN).toISOString() }),
            runRecord('o-early', {
              state: 'Error',
              createdAt: new Date(T0 + 11 * MIN).toISOString(),
              endedAt: new Date(T0 + 12 * MIN).toISOString(),
              position: { activity: 'intake', stage: 'pre' },
              message: 'intake/pre: validate: no address',
            }),
            runRecord('o-before', {
              state: 'Error',
              createdAt: new Date(T0 - 30 * MIN).toISOString(),
              endedAt: new Date(T0 - 29 * MIN).toISOString(),
            }),
          ]
        : [],
  }),
};

describe('metrics report on moto', () => {
  let cloudwatch: CloudWatchClient;
  let html: string;
  let doc: Element;

  beforeAll(async () => {
    cloudwatch = new CloudWatchClient({
      ...motoClientConfig(moto.endpoint),
      disableRequestCompression: true,
    });
    await seed(cloudwatch);
    html = await renderMetricsReport({
      cloudwatch,
      namespace: 'Plugboard',
      deploymentStage: STAGE,
      workflows: WORKFLOWS,
      from: new Date(T0),
      to: new Date(T0 + 30 * MIN),
      generatedAt: new Date(T0 + 31 * MIN),
      runs: RUNS,
    });
    doc = parseHtml(html);
  }, 60_000);

  const panel = (id: string): Element => {
    const found = all(doc, (e) => e.name === 'section' && e.attributes['data-panel'] === id)[0];
    if (!found) throw new Error(`no panel ${id}`);
    return found;
  };
  const seriesIn = (id: string) =>
    all(panel(id), (e) => e.name === 'path' && e.attributes.class === 'series').map(
      (e) => e.attributes['data-series'],
    );
  const pointsIn = (id: string, series: string) =>
    all(panel(id), (e) => e.name === 'circle' && e.attributes['data-series'] === series);
  const barsIn = (id: string) =>
    all(panel(id), (e) => e.name === 'rect' && e.attributes.class === 'bar').map(
      (e) => e.attributes['data-series'],
    );

  it('is one well-formed, self-contained HTML document: no scripts, no external resources', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(all(doc, (e) => e.name === 'script' || e.name === 'link' || e.name === 'img')).toEqual([]);
    expect(all(doc, (e) => 'src' in e.attributes || 'href' in e.attributes)).toEqual([]);
    expect(html.replaceAll('http://www.w3.org/2000/svg', '')).not.toMatch(/https?:\/\//);
  });

  it('has a panel for every main graph of the dashboard, titled with the same words', () => {
    const titles = all(doc, (e) => e.name === 'h2').map(textOf);

    expect(titles).toEqual([
      PANEL_TITLES.active,
      PANEL_TITLES.inactive(10),
      PANEL_TITLES.stuck(20),
      PANEL_TITLES.throughput,
      PANEL_TITLES.failures,
      PANEL_TITLES.runDuration,
      PANEL_TITLES.stageDuration,
      PANEL_TITLES.stageOverhead,
      PANEL_TITLES.slowestPlugins,
      PANEL_TITLES.failedRuns,
      PANEL_TITLES.pluginErrors,
      PANEL_TITLES.pluginTimeouts,
    ]);
    expect(all(doc, (e) => e.name === 'section' && e.attributes['data-has-data'] === 'false')).toEqual([]);
  });

  it('draws a line with points for every workflow in the liveness panels', () => {
    expect(seriesIn('active')).toEqual(['order', 'refund']);
    expect(pointsIn('active', 'order')).toHaveLength(30);
    expect(seriesIn('inactive')).toEqual(['order', 'refund']);
    expect(seriesIn('stuck')).toEqual(['order', 'refund']);
    const lastStuck = pointsIn('stuck', 'order').at(-1);
    expect(lastStuck?.children[0] && textOf(lastStuck.children[0])).toMatch(/^order: 1 at /);
  });

  it('draws throughput per minute, failures (both handlers summed) and the failure rate', () => {
    expect(seriesIn('throughput')).toEqual(['order started', 'order completed', 'refund started']);
    expect(textOf(pointsIn('throughput', 'order started')[0] ?? panel('throughput'))).toMatch(
      /^order started: 2 at/,
    );
    expect(seriesIn('failures')).toEqual(['order failed', 'order cancelled']);
    const failedAt12 = pointsIn('failures', 'order failed')
      .map(textOf)
      .find((t) => t.startsWith('order failed: 2 at'));
    expect(failedAt12).toBeDefined();
    expect(textOf(panel('failures'))).toContain('order: 5% (3 failed of 60 started)');
    expect(textOf(panel('failures'))).toContain('refund: 0% (0 failed of 3 started)');
  });

  it('draws run duration p50 and p99, saying when the endpoint cannot compute percentiles', () => {
    expect(seriesIn('run-duration')).toEqual(['order p50', 'order p99']);
    expect(pointsIn('run-duration', 'order p99').map(textOf)[0]).toMatch(/^order p99: 2400 at/);
    expect(textOf(panel('run-duration'))).toContain('does not compute percentiles');
  });

  it('draws p50 and p99 bars for every stage, for duration and overhead', () => {
    const stages = ['intake', 'fulfilment', 'notify'].flatMap((a) =>
      ['pre', 'parallel', 'post'].map((s) => `order/${a}/${s}`),
    );

    expect(barsIn('stage-duration').sort()).toEqual(stages.flatMap((s) => [`${s} p50`, `${s} p99`]).sort());
    expect(barsIn('stage-overhead')).toHaveLength(18);
  });

  it('draws errors and timeouts per plugin', () => {
    expect(barsIn('plugin-errors')).toEqual([
      'fulfilment/parallel/charge-card errors',
      'fulfilment/parallel/reserve-stock errors',
    ]);
    expect(textOf(panel('plugin-errors'))).toContain('fulfilment/parallel/charge-card');
    expect(barsIn('plugin-timeouts')).toEqual(['fulfilment/parallel/reserve-stock timeouts']);
  });

  it('names the slowest plugins by p99, slowest first, with their p50', () => {
    expect(barsIn('slowest-plugins')).toEqual([
      'fulfilment/parallel/charge-card p99',
      'fulfilment/parallel/charge-card p50',
      'fulfilment/parallel/reserve-stock p99',
      'fulfilment/parallel/reserve-stock p50',
    ]);
    expect(textOf(panel('slowest-plugins'))).toContain(
      'Slowest: fulfilment/parallel/charge-card (p99 5200 ms).',
    );
  });

  it('names the runs that failed in the range, newest first, with where, why and how to look', () => {
    const rows = all(panel('failed-runs'), (e) => e.name === 'tr' && e.attributes.class === 'failed-run').map(
      textOf,
    );

    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain('o-late');
    expect(rows[0]).toContain('fulfilment/parallel');
    expect(rows[0]).toContain('card declined');
    expect(rows[0]).toContain(`npx plugboard --stage ${STAGE} status order o-late`);
    expect(rows[1]).toContain('o-early');
  });

  it('counts the runs active now from the table, and caps the last check by it', () => {
    const tiles = all(doc, (e) => (e.attributes.class ?? '').split(' ').includes('tile')).map(textOf);

    expect(tiles).toEqual([
      '2active now',
      '0inactive now',
      '1stuck now',
      '63runs started',
      '15runs completed',
      '3runs failed',
    ]);
  });

  it('says "No data" for a deployment stage without metrics, and writes the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plugboard-report-'));
    const path = join(dir, 'report.html');

    const written = await writeMetricsReport(path, {
      cloudwatch,
      deploymentStage: 'nothing-here',
      workflows: ['order'],
      from: new Date(T0),
      to: new Date(T0 + 30 * MIN),
    });

    const empty = parseHtml(await readFile(path, 'utf8'));
    expect(written.bytes).toBeGreaterThan(1000);
    expect(all(empty, (e) => e.name === 'section' && e.attributes['data-has-data'] === 'true')).toEqual([]);
    expect(all(empty, (e) => e.attributes.class === 'nodata')).toHaveLength(11);
  });

  it('without the table, says the liveness tiles are those of the last check, and when it was', async () => {
    const page = parseHtml(
      await renderMetricsReport({
        cloudwatch,
        deploymentStage: STAGE,
        workflows: WORKFLOWS,
        from: new Date(T0),
        to: new Date(T0 + 30 * MIN),
      }),
    );
    const tiles = all(page, (e) => (e.attributes.class ?? '').split(' ').includes('tile')).map(textOf);
    const lastCheck = new Date(T0 + 29 * MIN).toISOString().slice(11, 16);

    expect(tiles[0]).toBe(`7active at last check (${lastCheck} UTC)`);
    expect(tiles[2]).toBe(`1stuck at last check (${lastCheck} UTC)`);
  });

  it('draws a panel whose lines have one point each as bars, not dots', async () => {
    const page = parseHtml(
      await renderMetricsReport({
        cloudwatch,
        deploymentStage: STAGE,
        workflows: ['order'],
        from: new Date(T0 + 29 * MIN),
        to: new Date(T0 + 30 * MIN),
      }),
    );
    const active = all(page, (e) => e.name === 'section' && e.attributes['data-panel'] === 'active')[0];
    if (!active) throw new Error('no active panel');

    expect(all(active, (e) => e.name === 'circle' || e.name === 'path')).toEqual([]);
    expect(all(active, (e) => e.name === 'rect' && e.attributes.class === 'bar')).toHaveLength(1);
    expect(textOf(active)).toContain('One data point in this range');
  });
});
