/**
 * The liveness function against moto: the status table with its sparse `active` index, CloudWatch
 * (metric values read back with GetMetricData) and the alerts topic read through an SQS subscription.
 * A fake clock moves time; run and stage items are written in the table layout, and once by the
 * engine's own status store.
 */
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoStatusStore } from '../../lambdas/adapters/dynamo-status-store.js';
import type { RunRecord } from '../../lambdas/engine/records.js';
import type { MetricsConfig } from '../../metrics/config.js';
import { createMetricsHandler } from '../../metrics/handler.js';
import { RUN_SK, runPk, stageSk } from '../../plugin-kit/src/contracts/table-layout.js';
import { motoClientConfig, useMoto } from '../support/moto.js';
import { createStatusTable, type StatusTable } from '../support/status-table.js';

const moto = useMoto();
const MIN = 60_000;
/** A recent whole minute, so the metrics land where GetMetricData looks. */
const T0 = Math.floor(Date.now() / MIN) * MIN - 60 * MIN;
const iso = (ms: number) => new Date(ms).toISOString();

interface Harness {
  readonly table: StatusTable;
  readonly cloudwatch: CloudWatchClient;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly stage: string;
  readonly workflows: readonly string[];
  readonly clock: { now(): Date; set(ms: number): void };
  check(): ReturnType<ReturnType<typeof createMetricsHandler>>;
  putRun(
    workflow: string,
    uid: string,
    at: number,
    position?: { activity: string; stage: string },
  ): Promise<void>;
  putStage(workflow: string, uid: string, activity: string, stage: string, at: number): Promise<void>;
  finish(workflow: string, uid: string, at: number): Promise<void>;
}

let stages = 0;

async function setup(workflows: readonly string[] = ['order', 'refund', 'quiet']): Promise<Harness> {
  const config = motoClientConfig(moto.endpoint);
  const table = await createStatusTable(moto.endpoint);
  // moto cannot read gzip-compressed requests, which the SDK sends for large PutMetricData bodies.
  const cloudwatch = new CloudWatchClient({ ...config, disableRequestCompression: true });
  const sns = new SNSClient(config);
  const sqs = new SQSClient(config);
  // Each harness gets its own deployment stage, so metrics of other tests in this file never mix in.
  stages += 1;
  const stage = `it${stages}`;
  const topic = await sns.send(new CreateTopicCommand({ Name: `plugboard-${stage}-alerts` }));
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: `plugboard-${stage}-alerts-reader` }));
  const queueUrl = queue.QueueUrl ?? '';
  const queueArn = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))
  ).Attributes?.QueueArn;
  await sns.send(new SubscribeCommand({ TopicArn: topic.TopicArn, Protocol: 'sqs', Endpoint: queueArn }));

  let now = T0;
  const clock = {
    now: () => new Date(now),
    set: (ms: number) => {
      now = ms;
    },
  };
  const metricsConfig: MetricsConfig = {
    tableName: table.tableName,
    deploymentStage: stage,
    workflows,
    alertsTopicArn: topic.TopicArn ?? '',
    inactiveMinutes: 10,
    stuckMinutes: 20,
  };
  const handler = createMetricsHandler({
    config: metricsConfig,
    dynamo: table.documentClient,
    cloudwatch,
    sns,
    clock,
    log: { info: () => undefined, warn: () => undefined },
  });
  const doc = table.documentClient;
  return {
    table,
    cloudwatch,
    sqs,
    queueUrl,
    stage,
    workflows,
    clock,
    check: () => handler({}),
    async putRun(workflow, uid, at, position) {
      await doc.send(
        new PutCommand({
          TableName: table.tableName,
          Item: {
            pk: runPk(workflow, uid),
            sk: RUN_SK,
            workflow,
            uid,
            state: 'In Progress',
            generation: 1,
            createdAt: iso(at),
            updatedAt: iso(at),
            activeWorkflow: workflow,
            activeSince: `${iso(at)}#${uid}`,
            runsWorkflow: workflow,
            runsSort: `${iso(at)}#${uid}`,
            ...(position ? { position } : {}),
          },
        }),
      );
    },
    async putStage(workflow, uid, activity, stageName, at) {
      await doc.send(
        new PutCommand({
          TableName: table.tableName,
          Item: {
            pk: runPk(workflow, uid),
            sk: stageSk(activity, stageName),
            workflow,
            uid,
            activity,
            stage: stageName,
            state: 'In Progress',
            updatedAt: iso(at),
          },
        }),
      );
    },
    async finish(workflow, uid, at) {
      await doc.send(
        new UpdateCommand({
          TableName: table.tableName,
          Key: { pk: runPk(workflow, uid), sk: RUN_SK },
          UpdateExpression: 'SET #state = :done, #updatedAt = :at REMOVE #active, #since',
          ExpressionAttributeNames: {
            '#state': 'state',
            '#updatedAt': 'updatedAt',
            '#active': 'activeWorkflow',
            '#since': 'activeSince',
          },
          ExpressionAttributeValues: { ':done': 'Complete', ':at': iso(at) },
        }),
      );
    },
  };
}

/** Values of one liveness metric per minute from T0, read back with GetMetricData. */
async function readBack(h: Harness, metricName: string, workflow: string | undefined, minutes: number) {
  const output = await h.cloudwatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(T0),
      EndTime: new Date(T0 + minutes * MIN),
      ScanBy: 'TimestampAscending',
      MetricDataQueries: [
        {
          Id: 'm',
          MetricStat: {
            Metric: {
              Namespace: 'Plugboard',
              MetricName: metricName,
              Dimensions: [
                { Name: 'deploymentStage', Value: h.stage },
                ...(workflow ? [{ Name: 'workflow', Value: workflow }] : []),
              ],
            },
            Period: 60,
            Stat: 'Maximum',
          },
        },
      ],
    }),
  );
  const result = output.MetricDataResults?.[0];
  return (result?.Timestamps ?? []).map((t, i) => ({
    minute: (t.getTime() - T0) / MIN,
    value: result?.Values?.[i],
  }));
}

interface Alert {
  readonly subject: string;
  readonly message: string;
  readonly attributes: Record<string, string>;
}

/** Every alert delivered to the SQS subscription so far (SNS envelope bodies). */
async function drainAlerts(h: Harness): Promise<Alert[]> {
  const alerts: Alert[] = [];
  for (;;) {
    const out = await h.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: h.queueUrl, MaxNumberOfMessages: 10 }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) return alerts;
    for (const m of messages) {
      const envelope = JSON.parse(m.Body ?? '{}') as {
        Subject: string;
        Message: string;
        MessageAttributes?: Record<string, { Value: string }>;
      };
      alerts.push({
        subject: envelope.Subject,
        message: envelope.Message,
        attributes: Object.fromEntries(
          Object.entries(envelope.MessageAttributes ?? {}).map(([k, v]) => [k, v.Value]),
        ),
      });
    }
  }
}

describe('liveness function on moto', () => {
  it('puts active counts that rise and fall as runs are put and finished, zeros included', async () => {
    const h = await setup();
    await h.putRun('order', 'o-1', T0);
    await h.putRun('order', 'o-2', T0);
    await h.putRun('order', 'o-3', T0);
    await h.putRun('refund', 'r-1', T0);
    await h.check();

    h.clock.set(T0 + MIN);
    await h.putRun('order', 'o-4', T0 + MIN);
    await h.check();

    h.clock.set(T0 + 2 * MIN);
    await h.finish('order', 'o-1', T0 + 2 * MIN);
    await h.finish('order', 'o-2', T0 + 2 * MIN);
    await h.finish('refund', 'r-1', T0 + 2 * MIN);
    const last = await h.check();

    expect(await readBack(h, 'ActiveWorkflows', 'order', 3)).toEqual([
      { minute: 0, value: 3 },
      { minute: 1, value: 4 },
      { minute: 2, value: 2 },
    ]);
    expect((await readBack(h, 'ActiveWorkflows', 'refund', 3)).map((p) => p.value)).toEqual([1, 1, 0]);
    expect((await readBack(h, 'ActiveWorkflows', 'quiet', 3)).map((p) => p.value)).toEqual([0, 0, 0]);
    expect((await readBack(h, 'ActiveWorkflows', undefined, 3)).map((p) => p.value)).toEqual([4, 5, 2]);
    expect(last.workflows).toEqual([
      { workflow: 'order', active: 2, inactive: 0, stuck: 0 },
      { workflow: 'refund', active: 0, inactive: 0, stuck: 0 },
      { workflow: 'quiet', active: 0, inactive: 0, stuck: 0 },
    ]);
  });

  it('finds inactive and stuck runs from the run item and the stage item at its position', async () => {
    const h = await setup();
    const check = { activity: 'check', stage: 'parallel' };
    await h.putRun('order', 'fresh', T0 + 25 * MIN);
    await h.putRun('order', 'moving-stage', T0, check);
    await h.putStage('order', 'moving-stage', 'check', 'parallel', T0 + 24 * MIN);
    await h.putRun('order', 'quiet-11', T0 + 19 * MIN);
    await h.putRun('order', 'stage-12', T0, check);
    await h.putStage('order', 'stage-12', 'check', 'parallel', T0 + 18 * MIN);
    await h.putRun('order', 'other-activity-moved', T0, { activity: 'check', stage: 'pre' });
    await h.putStage('order', 'other-activity-moved', 'ship', 'parallel', T0 + 29 * MIN);
    await h.putRun('order', 'later-stage-moved', T0, { activity: 'check', stage: 'pre' });
    await h.putStage('order', 'later-stage-moved', 'check', 'post', T0 + 29 * MIN);
    await h.putRun('refund', 'stuck-25', T0 + 5 * MIN);
    h.clock.set(T0 + 30 * MIN);

    const report = await h.check();

    expect(report.workflows).toEqual([
      { workflow: 'order', active: 6, inactive: 2, stuck: 1 },
      { workflow: 'refund', active: 1, inactive: 0, stuck: 1 },
      { workflow: 'quiet', active: 0, inactive: 0, stuck: 0 },
    ]);
    expect(await readBack(h, 'InactiveWorkflows', 'order', 31)).toEqual([{ minute: 30, value: 2 }]);
    expect(await readBack(h, 'StuckWorkflows', undefined, 31)).toEqual([{ minute: 30, value: 2 }]);
  });

  it('publishes one alert per stuck run, remembers it on the run item, and alerts again after recovery', async () => {
    const h = await setup();
    const position = { activity: 'fulfilment', stage: 'parallel' };
    await h.putRun('order', 'o-1', T0, position);
    await h.putStage('order', 'o-1', 'fulfilment', 'parallel', T0);
    await h.putRun('order', 'o-2', T0);

    for (let minute = 20; minute <= 24; minute += 1) {
      h.clock.set(T0 + minute * MIN);
      await h.check();
    }
    const first = await drainAlerts(h);

    expect(first.map((a) => a.attributes.uid).sort()).toEqual(['o-1', 'o-2']);
    const o1 = first.find((a) => a.attributes.uid === 'o-1');
    expect(o1?.subject).toBe(`Plugboard ${h.stage}: run order/o-1 stuck for 20 min`);
    expect(o1?.message).toContain('activity "fulfilment", stage "parallel"');
    expect(o1?.message).toContain(`npx plugboard --stage ${h.stage} status order o-1`);
    expect(o1?.attributes).toMatchObject({ kind: 'run-stuck', workflow: 'order', deploymentStage: h.stage });
    const item = await h.table.documentClient.send(
      new GetCommand({ TableName: h.table.tableName, Key: { pk: runPk('order', 'o-1'), sk: RUN_SK } }),
    );
    expect(item.Item).toMatchObject({ stuckAlertedProgress: iso(T0), stuckAlertedAt: iso(T0 + 20 * MIN) });

    // o-1 makes progress (a report batch on its stage), then goes quiet again for 20 minutes.
    await h.putStage('order', 'o-1', 'fulfilment', 'parallel', T0 + 25 * MIN);
    h.clock.set(T0 + 26 * MIN);
    const recovered = await h.check();
    expect(recovered.workflows[0]).toMatchObject({ stuck: 1 });
    for (let minute = 45; minute <= 47; minute += 1) {
      h.clock.set(T0 + minute * MIN);
      await h.check();
    }
    const second = await drainAlerts(h);

    expect(second.map((a) => a.attributes.uid)).toEqual(['o-1']);
    expect(second[0]?.message).toContain(`last progress:    ${iso(T0 + 25 * MIN)}`);
  });

  it('sends one alert when overlapping checks find the same stuck run (the conditional write decides)', async () => {
    const h = await setup(['order']);
    for (let i = 0; i < 5; i += 1) await h.putRun('order', `o-${i}`, T0);
    h.clock.set(T0 + 21 * MIN);

    const reports = await Promise.all([h.check(), h.check(), h.check()]);

    expect(reports.flatMap((r) => r.alerted)).toHaveLength(5);
    expect((await drainAlerts(h)).map((a) => a.attributes.uid).sort()).toEqual([
      'o-0',
      'o-1',
      'o-2',
      'o-3',
      'o-4',
    ]);
  });

  it('reads runs written by the engine’s status store, and the store keeps working on alerted run items', async () => {
    const h = await setup(['order']);
    let storeNow = T0;
    const store = new DynamoStatusStore({
      tableName: h.table.tableName,
      client: h.table.documentClient,
      clock: { now: () => new Date(storeNow) },
    });
    const run: RunRecord = {
      workflow: 'order',
      uid: 'from-store',
      state: 'In Progress',
      generation: 1,
      activities: ['intake'],
      metadata: {},
      createdAt: iso(T0),
      updatedAt: iso(T0),
      stateTimes: { 'In Progress': iso(T0) },
    };
    await store.createRunIfAbsent(run);
    await store.transitionRun({ workflow: 'order', uid: 'from-store' }, ['In Progress'], {
      position: { activity: 'intake', stage: 'pre' },
    });
    h.clock.set(T0 + 21 * MIN);

    const stuck = await h.check();
    storeNow = T0 + 22 * MIN;
    const finished = await store.transitionRun({ workflow: 'order', uid: 'from-store' }, ['In Progress'], {
      state: 'Complete',
      endedAt: iso(storeNow),
    });
    h.clock.set(T0 + 23 * MIN);
    const after = await h.check();

    expect(stuck.workflows).toEqual([{ workflow: 'order', active: 1, inactive: 0, stuck: 1 }]);
    expect(stuck.alerted).toEqual([{ workflow: 'order', uid: 'from-store' }]);
    expect(finished.applied).toBe(true);
    expect(after.workflows).toEqual([{ workflow: 'order', active: 0, inactive: 0, stuck: 0 }]);
  });

  it('puts the data points of many workflows in as few PutMetricData requests as the API allows', async () => {
    const workflows = Array.from({ length: 340 }, (_, i) => `wf-${String(i).padStart(3, '0')}`);
    const h = await setup(workflows);
    await h.putRun('wf-339', 'x', T0);

    const report = await h.check();

    expect(report.datums).toBe(3 * 340 + 3);
    expect(report.metricRequests).toBe(2);
    expect((await readBack(h, 'ActiveWorkflows', 'wf-339', 1)).map((p) => p.value)).toEqual([1]);
    expect((await readBack(h, 'StuckWorkflows', 'wf-000', 1)).map((p) => p.value)).toEqual([0]);
  });
});
