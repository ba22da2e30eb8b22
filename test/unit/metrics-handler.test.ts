/**
 * The metrics handler wired to real SDK clients over an in-memory HTTP handler (fake DynamoDB,
 * CloudWatch and SNS) and a fake clock: what it asks DynamoDB (the `active` index, Select COUNT,
 * projections, never a Scan), how it batches PutMetricData, and what it publishes.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { MetricsConfig } from '../../metrics/config.js';
import { createMetricsHandler } from '../../metrics/handler.js';
import {
  FakeAwsError,
  type FakeCall,
  fakeClientConfig,
  fakeRequestHandler,
  isRecord,
} from './metrics-fake-aws.js';

const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const MIN = 60_000;
const TABLE = 'plugboard-dev-status';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:plugboard-dev-alerts';

type Native = string | number | { [key: string]: Native };
type NativeItem = Record<string, Native>;

function toAttr(value: Native): Record<string, unknown> {
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: String(value) };
  return { M: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toAttr(v)])) };
}

function fromAttr(attr: unknown): Native {
  if (!isRecord(attr)) throw new Error(`not an attribute value: ${JSON.stringify(attr)}`);
  if (typeof attr.S === 'string') return attr.S;
  if (typeof attr.N === 'string') return Number(attr.N);
  if (isRecord(attr.M)) return Object.fromEntries(Object.entries(attr.M).map(([k, v]) => [k, fromAttr(v)]));
  throw new Error(`unsupported attribute value: ${JSON.stringify(attr)}`);
}

const toItem = (item: NativeItem) => Object.fromEntries(Object.entries(item).map(([k, v]) => [k, toAttr(v)]));

function names(input: Record<string, unknown>): Record<string, string> {
  const raw = input.ExpressionAttributeNames;
  return isRecord(raw) ? Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)])) : {};
}

function value(input: Record<string, unknown>, placeholder: string): Native {
  const values = input.ExpressionAttributeValues;
  if (!isRecord(values)) throw new Error('no ExpressionAttributeValues');
  return fromAttr(values[placeholder]);
}

function project(item: NativeItem, input: Record<string, unknown>): NativeItem {
  if (typeof input.ProjectionExpression !== 'string') throw new Error('expected a ProjectionExpression');
  const map = names(input);
  const wanted = input.ProjectionExpression.split(',').map((p) => map[p.trim()] ?? p.trim());
  return Object.fromEntries(Object.entries(item).filter(([k]) => wanted.includes(k)));
}

/**
 * A status table that answers exactly the operations the liveness reader may use. Query pages hold
 * two items, and the first BatchGetItem leaves one key unprocessed, so pagination and retries run.
 */
class FakeStatusTable {
  readonly items = new Map<string, NativeItem>();
  private batchGets = 0;

  put(item: NativeItem): void {
    this.items.set(`${item.pk}|${item.sk}`, item);
  }

  get(pk: string, sk: string): NativeItem | undefined {
    return this.items.get(`${pk}|${sk}`);
  }

  startRun(workflow: string, uid: string, at: number, position?: { activity: string; stage: string }): void {
    const time = new Date(at).toISOString();
    this.put({
      pk: `RUN#${workflow}#${uid}`,
      sk: 'RUN',
      workflow,
      uid,
      state: 'In Progress',
      createdAt: time,
      updatedAt: time,
      activeWorkflow: workflow,
      activeSince: `${time}#${uid}`,
      ...(position ? { position } : {}),
    });
  }

  touchStage(workflow: string, uid: string, activity: string, stage: string, at: number): void {
    this.put({
      pk: `RUN#${workflow}#${uid}`,
      sk: `STAGE#${activity}#${stage}`,
      updatedAt: new Date(at).toISOString(),
    });
  }

  respond = (call: FakeCall): Record<string, unknown> | FakeAwsError => {
    const { input } = call;
    if (call.operation !== 'DynamoDB.Scan' && input.TableName !== undefined && input.TableName !== TABLE) {
      return new FakeAwsError('ResourceNotFoundException', `no table ${String(input.TableName)}`);
    }
    switch (call.operation) {
      case 'DynamoDB.Query':
        return this.query(input);
      case 'DynamoDB.BatchGetItem':
        return this.batchGet(input);
      case 'DynamoDB.UpdateItem':
        return this.update(input);
      default:
        throw new Error(`the liveness reader must not call ${call.operation}`);
    }
  };

  /** The `active` index projects keys only: a query returns index and table keys, never other attributes. */
  private query(input: Record<string, unknown>) {
    expect(input.IndexName).toBe('active');
    expect(input.FilterExpression).toBeUndefined();
    // The liveness role's IAM condition allows only these (metrics/liveness-function.ts).
    expect(['COUNT', 'SPECIFIC_ATTRIBUTES']).toContain(input.Select);
    expect(names(input)['#active']).toBe('activeWorkflow');
    const workflow = value(input, ':workflow');
    const bound = String(input.KeyConditionExpression).includes(':sinceBound')
      ? String(value(input, ':sinceBound'))
      : undefined;
    if (bound !== undefined) expect(names(input)['#since']).toBe('activeSince');
    const inPartition = [...this.items.values()]
      .filter((i) => i.activeWorkflow === workflow)
      .filter((i) => bound === undefined || String(i.activeSince) < bound)
      .sort((a, b) => String(a.activeSince).localeCompare(String(b.activeSince)));
    const start = isRecord(input.ExclusiveStartKey)
      ? String(fromAttr(input.ExclusiveStartKey.activeSince))
      : '';
    const remaining = inPartition.filter((i) => String(i.activeSince) > start);
    const page = remaining.slice(0, 2).map((i) => ({
      pk: i.pk ?? '',
      sk: i.sk ?? '',
      activeWorkflow: i.activeWorkflow ?? '',
      activeSince: i.activeSince ?? '',
    }));
    const last = page.at(-1);
    const more = remaining.length > 2 && last ? { LastEvaluatedKey: toItem(last) } : {};
    if (input.Select === 'COUNT') return { Count: page.length, ScannedCount: page.length, ...more };
    return { Items: page.map(toItem), Count: page.length, ScannedCount: page.length, ...more };
  }

  private batchGet(input: Record<string, unknown>) {
    this.batchGets += 1;
    const request = isRecord(input.RequestItems) ? input.RequestItems[TABLE] : undefined;
    if (!isRecord(request) || !Array.isArray(request.Keys)) throw new Error('BatchGetItem without keys');
    const keys = request.Keys.map((k: unknown) => {
      if (!isRecord(k)) throw new Error('bad key');
      return { pk: String(fromAttr(k.pk)), sk: String(fromAttr(k.sk)) };
    });
    const [deferred, ...served] = this.batchGets === 1 && keys.length > 1 ? keys : [undefined, ...keys];
    const found = served.flatMap((k) => {
      const item = k && this.get(k.pk, k.sk);
      return item ? [toItem(project(item, request))] : [];
    });
    return {
      Responses: { [TABLE]: found },
      UnprocessedKeys: deferred ? { [TABLE]: { ...request, Keys: [toItem(deferred)] } } : {},
    };
  }

  private update(input: Record<string, unknown>) {
    if (!isRecord(input.Key)) throw new Error('UpdateItem without key');
    const item = this.get(String(fromAttr(input.Key.pk)), String(fromAttr(input.Key.sk)));
    const fail = new FakeAwsError(
      'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
      'condition failed',
    );
    const expression = String(input.UpdateExpression);
    if (expression.startsWith('SET')) {
      const progress = String(value(input, ':progress'));
      if (!item || item.activeWorkflow === undefined || item.updatedAt !== value(input, ':updatedAt'))
        return fail;
      if (item.stuckAlertedProgress === progress) return fail;
      item.stuckAlertedProgress = progress;
      item.stuckAlertedAt = String(value(input, ':at'));
      return {};
    }
    if (expression.startsWith('REMOVE')) {
      if (!item || item.stuckAlertedAt !== value(input, ':at')) return fail;
      delete item.stuckAlertedAt;
      delete item.stuckAlertedProgress;
      return {};
    }
    throw new Error(`unexpected UpdateExpression ${expression}`);
  }
}

const config: MetricsConfig = {
  tableName: TABLE,
  deploymentStage: 'dev',
  workflows: ['orders', 'refunds', 'quiet'],
  alertsTopicArn: TOPIC,
  inactiveMinutes: 10,
  stuckMinutes: 20,
};

function setup(options: { maxDatumsPerRequest?: number; failPublish?: boolean } = {}) {
  const table = new FakeStatusTable();
  const dynamo = fakeRequestHandler('DynamoDB', table.respond);
  const cloudwatch = fakeRequestHandler('CloudWatch', () => ({}));
  const sns = fakeRequestHandler('SNS', () =>
    options.failPublish ? new FakeAwsError('InternalError', 'SNS is down', 500) : { MessageId: 'm-1' },
  );
  let now = T0;
  const handler = createMetricsHandler({
    config,
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient(fakeClientConfig(dynamo.handler))),
    cloudwatch: new CloudWatchClient(fakeClientConfig(cloudwatch.handler)),
    sns: new SNSClient(fakeClientConfig(sns.handler)),
    clock: { now: () => new Date(now) },
    log: { info: () => undefined, warn: () => undefined },
    ...(options.maxDatumsPerRequest ? { maxDatumsPerRequest: options.maxDatumsPerRequest } : {}),
  });
  return {
    table,
    handler,
    dynamoCalls: dynamo.calls,
    putCalls: () => cloudwatch.calls.filter((c) => c.operation === 'CloudWatch.PutMetricData'),
    publishes: () => sns.calls.filter((c) => c.operation === 'SNS.Publish'),
    advance: (ms: number) => {
      now += ms;
    },
  };
}

interface SentDatum {
  MetricName: string;
  Value: number;
  Dimensions: { Name: string; Value: string }[];
}

function datums(call: FakeCall | undefined): SentDatum[] {
  const data = call?.input.MetricData;
  if (!Array.isArray(data)) return [];
  return data.map((d: unknown) => {
    if (!isRecord(d) || !Array.isArray(d.Dimensions)) throw new Error('bad datum');
    return {
      MetricName: String(d.MetricName),
      Value: Number(d.Value),
      Dimensions: d.Dimensions.map((x: unknown) =>
        isRecord(x) ? { Name: String(x.Name), Value: String(x.Value) } : { Name: '', Value: '' },
      ),
    };
  });
}

const find = (all: SentDatum[], name: string, workflow: string) =>
  all.find(
    (d) => d.MetricName === name && d.Dimensions.some((x) => x.Name === 'workflow' && x.Value === workflow),
  );

describe('metrics handler', () => {
  it('puts zero-valued Active/Inactive/StuckWorkflows for every configured workflow in one Plugboard request', async () => {
    const { handler, putCalls } = setup();

    await handler({});

    expect(putCalls()).toHaveLength(1);
    expect(putCalls()[0]?.input.Namespace).toBe('Plugboard');
    const sent = datums(putCalls()[0]);
    expect(sent).toHaveLength(12);
    for (const workflow of config.workflows) {
      for (const name of ['ActiveWorkflows', 'InactiveWorkflows', 'StuckWorkflows']) {
        expect(find(sent, name, workflow)).toMatchObject({
          Value: 0,
          Dimensions: [
            { Name: 'deploymentStage', Value: 'dev' },
            { Name: 'workflow', Value: workflow },
          ],
        });
      }
    }
  });

  it('counts with Select COUNT on the active index, page by page, and never scans', async () => {
    const { table, handler, dynamoCalls, putCalls } = setup();
    for (let i = 0; i < 5; i += 1) table.startRun('orders', `o-${i}`, T0 + i);

    await handler({});

    const queries = dynamoCalls.filter((c) => c.operation === 'DynamoDB.Query');
    expect(queries.every((q) => q.input.IndexName === 'active' && q.input.Select === 'COUNT')).toBe(true);
    const forOrders = queries.filter((q) => value(q.input, ':workflow') === 'orders');
    // All 5 runs in pages of 2, then the runs old enough to be stale: none, one page.
    expect(
      forOrders.filter((q) => !String(q.input.KeyConditionExpression).includes(':sinceBound')),
    ).toHaveLength(3);
    expect(
      forOrders.filter((q) => String(q.input.KeyConditionExpression).includes(':sinceBound')),
    ).toHaveLength(1);
    expect(dynamoCalls.some((c) => c.operation === 'DynamoDB.Scan')).toBe(false);
    expect(dynamoCalls.some((c) => c.operation === 'DynamoDB.BatchGetItem')).toBe(false);
    expect(find(datums(putCalls()[0]), 'ActiveWorkflows', 'orders')?.Value).toBe(5);
  });

  it('reads only the run items created by the cut-off, and drops those updated since', async () => {
    const { table, handler, dynamoCalls, putCalls, advance } = setup();
    table.startRun('orders', 'old-idle', T0, { activity: 'check', stage: 'pre' });
    table.startRun('orders', 'old-busy', T0, { activity: 'check', stage: 'pre' });
    table.startRun('orders', 'young', T0 + 20 * MIN, { activity: 'check', stage: 'pre' });
    const busy = table.get('RUN#orders#old-busy', 'RUN');
    if (busy) busy.updatedAt = new Date(T0 + 18 * MIN).toISOString();
    advance(21 * MIN);

    await handler({});

    const runKeysRead = dynamoCalls
      .filter((c) => c.operation === 'DynamoDB.BatchGetItem')
      .flatMap((c) => {
        const request = isRecord(c.input.RequestItems) ? c.input.RequestItems[TABLE] : undefined;
        return isRecord(request) && Array.isArray(request.Keys) ? request.Keys : [];
      })
      .map((k: unknown) => (isRecord(k) ? String(fromAttr(k.pk)) : ''))
      .filter((pk, i, all) => all.indexOf(pk) === i);
    expect(runKeysRead).toEqual(expect.arrayContaining(['RUN#orders#old-idle', 'RUN#orders#old-busy']));
    expect(runKeysRead).not.toContain('RUN#orders#young');
    const sent = datums(putCalls()[0]);
    expect(find(sent, 'ActiveWorkflows', 'orders')?.Value).toBe(3);
    expect(find(sent, 'StuckWorkflows', 'orders')?.Value).toBe(1);
    expect(find(sent, 'InactiveWorkflows', 'orders')?.Value).toBe(0);
  });

  it('splits the data points over several PutMetricData requests when they exceed the per-request limit', async () => {
    const { handler, putCalls } = setup({ maxDatumsPerRequest: 5 });

    await handler({});

    expect(putCalls().map((c) => datums(c).length)).toEqual([5, 5, 2]);
  });

  it('reads the stage item at the run position with a projection, retrying unprocessed keys', async () => {
    const { table, handler, dynamoCalls, putCalls, advance } = setup();
    table.startRun('orders', 'o-1', T0, { activity: 'check', stage: 'parallel' });
    table.startRun('orders', 'o-2', T0, { activity: 'check', stage: 'pre' });
    table.touchStage('orders', 'o-1', 'check', 'parallel', T0 + 14 * MIN);
    table.touchStage('orders', 'o-2', 'check', 'pre', T0 + 5 * MIN);
    advance(26 * MIN);

    await handler({});

    // Run items (the first request leaves one key unprocessed, asked again), then the stage items.
    const batchGets = dynamoCalls.filter((c) => c.operation === 'DynamoDB.BatchGetItem');
    expect(batchGets).toHaveLength(3);
    const sent = datums(putCalls()[0]);
    expect(find(sent, 'ActiveWorkflows', 'orders')?.Value).toBe(2);
    expect(find(sent, 'InactiveWorkflows', 'orders')?.Value).toBe(1);
    expect(find(sent, 'StuckWorkflows', 'orders')?.Value).toBe(1);
  });

  it('publishes one alert per stuck run to the alerts topic and remembers it on the run item', async () => {
    const { table, handler, publishes, advance } = setup();
    table.startRun('orders', 'o-9', T0, { activity: 'ship', stage: 'post' });
    advance(21 * MIN);

    await handler({});
    advance(MIN);
    await handler({});

    expect(publishes()).toHaveLength(1);
    const input = publishes()[0]?.input ?? {};
    expect(input.TopicArn).toBe(TOPIC);
    expect(input.Subject).toBe('Plugboard dev: run orders/o-9 stuck for 21 min');
    expect(String(input.Message)).toContain('npx plugboard --stage dev status orders o-9');
    expect(Object.values(input)).toEqual(
      expect.arrayContaining(['workflow', 'orders', 'uid', 'o-9', 'run-stuck']),
    );
    expect(table.get('RUN#orders#o-9', 'RUN')).toMatchObject({
      stuckAlertedProgress: new Date(T0).toISOString(),
      stuckAlertedAt: new Date(T0 + 21 * MIN).toISOString(),
    });
  });

  it('alerts again after the run recovers and gets stuck again', async () => {
    const { table, handler, publishes, advance } = setup();
    table.startRun('orders', 'o-1', T0, { activity: 'check', stage: 'parallel' });
    advance(21 * MIN);
    await handler({});
    table.touchStage('orders', 'o-1', 'check', 'parallel', T0 + 22 * MIN);
    advance(21 * MIN);

    await handler({});

    expect(publishes()).toHaveLength(2);
  });

  it('fails the invocation after putting the metrics when SNS refuses the alert, and leaves no claim behind', async () => {
    const { table, handler, putCalls, advance } = setup({ failPublish: true });
    table.startRun('orders', 'o-1', T0);
    advance(25 * MIN);

    await expect(handler({})).rejects.toThrow(/Could not publish 1 stuck-run alert\(s\) \(orders\/o-1\)/);

    expect(putCalls()).toHaveLength(1);
    expect(table.get('RUN#orders#o-1', 'RUN')?.stuckAlertedProgress).toBeUndefined();
  });
});
