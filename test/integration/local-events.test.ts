import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud, RunnerLogEntry } from '../../local/index.js';
import {
  CJS_HANDLERS,
  FIXTURE_ASSEMBLY,
  field,
  fixtureFunction,
  readSink,
  type SinkMessage,
  sleep,
  startLocalCloud,
  writeAssembly,
} from '../fixtures/local/harness.js';
import { motoClientConfig, useMoto } from '../support/moto.js';

const moto = useMoto();
let local: LocalCloud;
let sqs: SQSClient;
let sns: SNSClient;
const warnings: string[] = [];
/** Every test waits for deliveries with deadlines of its own; the test timeout leaves room for them. */
const SLOW_MACHINE = { timeout: 120_000 } as const;

function resource(stackName: string, logicalId: string) {
  const found = local.deployer.stack(stackName)?.resources.get(logicalId);
  if (found === undefined) throw new Error(`${stackName}/${logicalId} is not deployed`);
  return found;
}

const core = (logicalId: string) => resource('fixture-core', logicalId).physicalId;

beforeAll(async () => {
  local = await startLocalCloud(moto.endpoint, {
    // rate(1 minute) every second: ticks pile up for the schedule test without loading moto for the rest.
    scheduleSpeedUp: 60,
    asyncRetryDelaysSeconds: [0],
    onLog: (entry: RunnerLogEntry) => {
      if (entry.kind === 'runner' && entry.level === 'warn') warnings.push(entry.message);
    },
  });
  await local.deploy(FIXTURE_ASSEMBLY);
  sqs = new SQSClient(motoClientConfig(moto.endpoint));
  sns = new SNSClient(motoClientConfig(moto.endpoint));
}, 120_000);

afterAll(async () => {
  await local?.stop();
});

describe('SNS → Lambda subscriptions', SLOW_MACHINE, () => {
  it('delivers matching notifications as real-shaped SNS events and never the filtered ones', async () => {
    const topicArn = core('EventsTopic');
    const publish = (kind: string, message: string, subject?: string) =>
      sns.send(
        new PublishCommand({
          TopicArn: topicArn,
          Message: message,
          ...(subject !== undefined ? { Subject: subject } : {}),
          MessageAttributes: {
            kind: { DataType: 'String', StringValue: kind },
            plugins: { DataType: 'String.Array', StringValue: '["a","b"]' },
          },
        }),
      );
    const invocationsBefore = local.runner.stats('fixture-recorder').invocations;

    await publish('other', 'filtered-out');
    await publish('wanted', 'first', 'hello');
    await publish('wanted', 'second');
    const recorded = await readSink(sqs, core('RecorderSink'), (bodies) => bodies.length >= 2);
    const late = await readSink(sqs, core('RecorderSink'), () => false, 1500);

    const records = recorded.map((body) => field(body, 'record'));
    expect(records.map((record) => field(field(record, 'Sns'), 'Message')).sort()).toEqual([
      'first',
      'second',
    ]);
    expect(late).toEqual([]);
    expect(local.runner.stats('fixture-recorder').invocations - invocationsBefore).toBe(2);
    const first = records.find((record) => field(field(record, 'Sns'), 'Message') === 'first');
    expect(first).toMatchObject({
      EventSource: 'aws:sns',
      EventVersion: '1.0',
      EventSubscriptionArn: expect.stringContaining(`${topicArn}:`),
      Sns: {
        Type: 'Notification',
        TopicArn: topicArn,
        Subject: 'hello',
        MessageId: expect.any(String),
        Timestamp: expect.any(String),
        MessageAttributes: {
          kind: { Type: 'String', Value: 'wanted' },
          plugins: { Type: 'String.Array', Value: '["a","b"]' },
        },
      },
    });
    expect(recorded.every((body) => body.records === 1)).toBe(true);
  });

  it('retries a failing notification twice, then keeps it in the hidden dead-letter queue with a warning', async () => {
    await sns.send(
      new PublishCommand({
        TopicArn: core('EventsTopic'),
        Message: 'explode',
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'wanted' } },
      }),
    );
    const attempts = await readSink(sqs, core('RecorderSink'), (bodies) => bodies.length >= 3);
    // The third attempt reaches the sink before the runner dead-letters it: wait for the warning
    // that follows the dead-letter write, so the queue exists and holds the message.
    const deadLettered = (warning: string) =>
      /fixture-recorder: SNS notification .* failed every attempt/.test(warning);
    for (let waited = 0; !warnings.some(deadLettered) && waited < 10_000; waited += 100) await sleep(100);
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'plugboard-local-sns-dlq' }));
    const dead = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5, MessageAttributeNames: ['All'] }),
    );
    const extra = await readSink(sqs, core('RecorderSink'), () => false, 1000);

    expect(attempts).toHaveLength(3);
    expect(extra).toEqual([]);
    expect(dead.Messages).toHaveLength(1);
    expect(dead.Messages?.[0]?.MessageAttributes?.FunctionName?.StringValue).toBe('fixture-recorder');
    expect(field(field(JSON.parse(dead.Messages?.[0]?.Body ?? '{}'), 'Records'), '0')).toMatchObject({
      Sns: { Message: 'explode' },
    });
    expect(warnings.some(deadLettered)).toBe(true);
  });

  it('delivers to an SQS subscriber of an imported topic raw and filtered by prefix', async () => {
    const pluginQueue = resource('fixture-plugins', 'PluginQueue').physicalId;

    await sns.send(
      new PublishCommand({
        TopicArn: core('EventsTopic'),
        Message: '{"raw":true}',
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'plugin-a' } },
      }),
    );
    await sns.send(
      new PublishCommand({
        TopicArn: core('EventsTopic'),
        Message: '{"raw":false}',
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'wanted' } },
      }),
    );
    const received = await readSink(sqs, pluginQueue, (bodies) => bodies.length >= 1);
    const more = await readSink(sqs, pluginQueue, () => false, 1000);
    await readSink(sqs, core('RecorderSink'), (bodies) => bodies.length >= 1);

    expect(received).toEqual([{ raw: true }]);
    expect(more).toEqual([]);
  });
});

describe('SQS event source mappings', SLOW_MACHINE, () => {
  it('deletes the successes of a batch, redelivers a reported failure and finally moves it to the DLQ', async () => {
    const workQueue = core('WorkQueue');
    const workQueueArn = String(resource('fixture-core', 'WorkQueue').attributes.Arn);
    // The queue's visibility timeout (5 s) bounds how long a batch may take before its messages come
    // back; a warm function keeps a cold start out of that time.
    const warm = await local.invoke(core('BatchFunction'), { Records: [] });
    expect(warm).toMatchObject({ ok: true, payload: { batchItemFailures: [] } });

    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: workQueue,
        Entries: [
          {
            Id: 'a',
            MessageBody: JSON.stringify({ id: 'a' }),
            MessageAttributes: { origin: { DataType: 'String', StringValue: 'test' } },
          },
          { Id: 'b', MessageBody: JSON.stringify({ id: 'b', fail: true }) },
          { Id: 'c', MessageBody: JSON.stringify({ id: 'c' }) },
        ],
      }),
    );
    const deliveries = await readSink(
      sqs,
      core('BatchSink'),
      (bodies) => bodies.filter((body) => body.id === 'b').length >= 2 && bodies.some((b) => b.id === 'c'),
    );
    const dead = await readSink(sqs, core('WorkDeadLetterQueue'), (bodies) => bodies.length >= 1);
    const after = await readSink(sqs, core('BatchSink'), () => false, 1500);
    const left = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: workQueue,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );

    const byId = (id: string) => [...deliveries, ...after].filter((body: SinkMessage) => body.id === id);
    expect(byId('a')).toHaveLength(1);
    expect(byId('c')).toHaveLength(1);
    expect(byId('b').map((body) => body.receiveCount)).toEqual(['1', '2']);
    expect(dead).toEqual([{ id: 'b', fail: true }]);
    expect(left.Attributes).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
    expect(byId('a')[0]).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: workQueueArn,
      messageAttributes: {
        origin: { dataType: 'String', stringValue: 'test', stringListValues: [], binaryListValues: [] },
      },
    });
  });

  it('gathers a batch over the batching window up to the batch size', async () => {
    const directory = await writeAssembly([
      {
        name: 'adhoc-window',
        assets: { 'handlers.zip': CJS_HANDLERS },
        template: {
          Resources: {
            Source: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'adhoc-window-source' } },
            Sink: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'adhoc-window-sink' } },
            Consumer: fixtureFunction('index.batch', {
              Environment: { Variables: { SINK_URL: { Ref: 'Sink' } } },
            }),
            Mapping: {
              Type: 'AWS::Lambda::EventSourceMapping',
              Properties: {
                EventSourceArn: { 'Fn::GetAtt': ['Source', 'Arn'] },
                FunctionName: { Ref: 'Consumer' },
                BatchSize: 4,
                // Room for four sends on a loaded machine: the batch closes as soon as it is full.
                MaximumBatchingWindowInSeconds: 5,
              },
            },
          },
        },
      },
    ]);
    const [deployed] = await local.deploy(directory);
    const source = deployed?.resources.get('Source')?.physicalId ?? '';
    const sink = deployed?.resources.get('Sink')?.physicalId ?? '';

    for (const id of ['w1', 'w2', 'w3', 'w4']) {
      await sqs.send(new SendMessageCommand({ QueueUrl: source, MessageBody: JSON.stringify({ id }) }));
      await sleep(150);
    }
    const delivered = await readSink(sqs, sink, (bodies) => bodies.length >= 4);

    expect(delivered.map((body) => body.id).sort()).toEqual(['w1', 'w2', 'w3', 'w4']);
    expect(delivered.every((body) => body.batchSize === 4)).toBe(true);
  });
});

describe('schedules', SLOW_MACHINE, () => {
  it('fires a rate(1 minute) rule on a sped-up timer with a scheduled event', async () => {
    const rule = resource('fixture-core', 'TickRule');

    const ticks = await readSink(sqs, core('TickSink'), (bodies) => bodies.length >= 3);

    expect(
      local.runner.schedules().find((schedule) => schedule.ruleName === rule.physicalId)?.intervalMs,
    ).toBe(1000);
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    expect(field(ticks[0], 'event')).toMatchObject({
      version: '0',
      source: 'aws.events',
      'detail-type': 'Scheduled Event',
      account: '123456789012',
      region: 'us-east-1',
      resources: [rule.attributes.Arn],
      detail: {},
    });
  });
});
