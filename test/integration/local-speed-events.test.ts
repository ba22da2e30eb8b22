import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud, LocalCloudOptions } from '../../local/index.js';
import { field, readSink, sleep, startLocalCloud, writeAssembly } from '../fixtures/local/harness.js';
import { motoClientConfig, useMoto } from '../support/moto.js';

const moto = useMoto();
/** Deliveries on a loaded machine take their time; every test waits with deadlines of its own. */
const SLOW_MACHINE = { timeout: 120_000 } as const;

/**
 * A CJS bundle: `batch` sends one sink message per invocation with the time it started and the ids of
 * its records; `sns` sleeps as its notification says, then sends its id and the time; `emf` logs one
 * EMF line.
 */
const HANDLER = `
const { SQSClient, SendMessageCommand } = require('@aws-sdk/client-sqs');
const sqs = new SQSClient({});
exports.batch = async (event) => {
  const at = Date.now();
  const ids = event.Records.map((record) => JSON.parse(record.body).id);
  await sqs.send(new SendMessageCommand({ QueueUrl: process.env.SINK_URL, MessageBody: JSON.stringify({ at, ids }) }));
  return {};
};
exports.sns = async (event) => {
  const { id, sleepMs } = JSON.parse(event.Records[0].Sns.Message);
  await new Promise((resolve) => setTimeout(resolve, sleepMs));
  await sqs.send(new SendMessageCommand({ QueueUrl: process.env.SINK_URL, MessageBody: JSON.stringify({ id, at: Date.now() }) }));
};
exports.emf = async (event) => {
  console.log(JSON.stringify({
    _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: 'SpeedLocal', Dimensions: [['service']], Metrics: [{ Name: 'Pings', Unit: 'Count' }] }] },
    service: 'speed',
    Pings: event.pings,
  }));
  return {};
};
`;

let codeDirectory: string;
const requests: { service: string; operation: string }[] = [];

beforeAll(async () => {
  codeDirectory = await mkdtemp(join(tmpdir(), 'plugboard-speed-bundle-'));
  await writeFile(join(codeDirectory, 'index.js'), HANDLER);
});

afterAll(async () => {
  await rm(codeDirectory, { recursive: true, force: true });
});

function speedFunction(handler: string, properties: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Type: 'AWS::Lambda::Function',
    Properties: {
      Code: { S3Bucket: 'assets', S3Key: 'speed.zip' },
      Handler: handler,
      Runtime: 'nodejs20.x',
      Timeout: 30,
      ...properties,
    },
  };
}

/** A queue consumed with a batching window, its sink, and the EMF function, in one ad-hoc stack. */
async function deployWindowStack(local: LocalCloud, name: string, windowSeconds: number, batchSize = 10) {
  const directory = await writeAssembly([
    {
      name,
      assets: { 'speed.zip': codeDirectory },
      template: {
        Resources: {
          Source: { Type: 'AWS::SQS::Queue', Properties: { QueueName: `${name}-source` } },
          Sink: { Type: 'AWS::SQS::Queue', Properties: { QueueName: `${name}-sink` } },
          Consumer: speedFunction('index.batch', {
            FunctionName: `${name}-consumer`,
            Environment: { Variables: { SINK_URL: { Ref: 'Sink' } } },
          }),
          Mapping: {
            Type: 'AWS::Lambda::EventSourceMapping',
            Properties: {
              EventSourceArn: { 'Fn::GetAtt': ['Source', 'Arn'] },
              FunctionName: { Ref: 'Consumer' },
              BatchSize: batchSize,
              MaximumBatchingWindowInSeconds: windowSeconds,
            },
          },
          Emitter: speedFunction('index.emf', { FunctionName: `${name}-emf` }),
        },
      },
    },
  ]);
  const [deployed] = await local.deploy(directory);
  // Cold starts would count in the measured delays: wait for the prewarmed environments.
  await local.runner.warmed();
  return {
    source: deployed?.resources.get('Source')?.physicalId ?? '',
    sink: deployed?.resources.get('Sink')?.physicalId ?? '',
  };
}

/**
 * Sends `first`, then `second` half-way through the window (counted from the first send: room for a
 * slow send on a loaded machine), and returns the first batch the consumer got with how long after
 * the first send it started.
 */
async function batchAcrossTheWindow(
  local: LocalCloud,
  queues: { source: string; sink: string },
  windowMs: number,
) {
  const sqs = new SQSClient(local.clientConfig());
  try {
    const sent = Date.now();
    await sqs.send(
      new SendMessageCommand({ QueueUrl: queues.source, MessageBody: JSON.stringify({ id: 'first' }) }),
    );
    await sleep(Math.max(0, windowMs / 2 - (Date.now() - sent)));
    await sqs.send(
      new SendMessageCommand({ QueueUrl: queues.source, MessageBody: JSON.stringify({ id: 'second' }) }),
    );
    const [batch] = await readSink(sqs, queues.sink, (bodies) => bodies.length >= 1);
    return { delayMs: Number(field(batch, 'at')) - sent, ids: field(batch, 'ids') };
  } finally {
    sqs.destroy();
  }
}

async function withLocal<T>(options: LocalCloudOptions, work: (local: LocalCloud) => Promise<T>): Promise<T> {
  const local = await startLocalCloud(moto.endpoint, { prewarm: 1, ...options });
  try {
    return await work(local);
  } finally {
    await local.stop();
  }
}

describe('batching windows', SLOW_MACHINE, () => {
  // SQS long polls wait in whole seconds: a poller that long-polled the rest of its window would
  // invoke up to a second late, after a message sent just before the window ends.
  it('closes the batch when its window ends, not up to a second later (woken by the proxy)', async () => {
    await withLocal({}, async (local) => {
      const queues = await deployWindowStack(local, 'speed-hinted', 2);

      const { delayMs, ids } = await batchAcrossTheWindow(local, queues, 2000);

      expect(ids).toEqual(['first', 'second']);
      expect(delayMs).toBeGreaterThanOrEqual(1950);
      // Not the whole extra second of a long poll, with room for a slow invocation.
      expect(delayMs).toBeLessThan(2900);
    });
  });

  it('closes the batch when its window ends without the proxy too (sleeping the fraction of a second)', async () => {
    await withLocal({ proxy: false }, async (local) => {
      const queues = await deployWindowStack(local, 'speed-unhinted', 2);

      const { delayMs, ids } = await batchAcrossTheWindow(local, queues, 2000);

      expect(ids).toEqual(['first', 'second']);
      expect(delayMs).toBeGreaterThanOrEqual(1950);
      // Not the whole extra second of a long poll, with room for a slow invocation.
      expect(delayMs).toBeLessThan(2900);
    });
  });

  it('invokes a full batch at once, also when its messages were sent past the proxy', async () => {
    await withLocal({}, async (local) => {
      const queues = await deployWindowStack(local, 'speed-full', 5, 2);
      // Straight to moto: the proxy sees nothing, so only the poller's long polls can notice.
      const sqs = new SQSClient(motoClientConfig(moto.endpoint));

      const sent = Date.now();
      for (const id of ['one', 'two']) {
        await sqs.send(
          new SendMessageCommand({ QueueUrl: queues.source, MessageBody: JSON.stringify({ id }) }),
        );
      }
      const [batch] = await readSink(sqs, queues.sink, (bodies) => bodies.length >= 1);
      sqs.destroy();

      expect(field(batch, 'ids')).toEqual(['one', 'two']);
      // Well before the 5 s window would have ended.
      expect(Number(field(batch, 'at')) - sent).toBeLessThan(4000);
    });
  });

  it('divides the window by batchingWindowSpeedUp', async () => {
    await withLocal({ batchingWindowSpeedUp: 4 }, async (local) => {
      const queues = await deployWindowStack(local, 'speed-compressed', 2);

      const { delayMs, ids } = await batchAcrossTheWindow(local, queues, 500);

      expect(ids).toEqual(['first', 'second']);
      expect(delayMs).toBeGreaterThanOrEqual(450);
      // Far from the 2 s the window lasts undivided.
      expect(delayMs).toBeLessThan(1800);
    });
  });
});

describe('SNS → Lambda subscriptions', SLOW_MACHINE, () => {
  it('does not hold back a notification behind a slow invocation of an earlier one', async () => {
    await withLocal({}, async (local) => {
      const directory = await writeAssembly([
        {
          name: 'speed-sns',
          assets: { 'speed.zip': codeDirectory },
          template: {
            Resources: {
              Topic: { Type: 'AWS::SNS::Topic', Properties: { TopicName: 'speed-sns-topic' } },
              Sink: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'speed-sns-sink' } },
              Subscriber: speedFunction('index.sns', {
                FunctionName: 'speed-sns-subscriber',
                Environment: { Variables: { SINK_URL: { Ref: 'Sink' } } },
              }),
              Subscription: {
                Type: 'AWS::SNS::Subscription',
                Properties: {
                  TopicArn: { Ref: 'Topic' },
                  Protocol: 'lambda',
                  Endpoint: { 'Fn::GetAtt': ['Subscriber', 'Arn'] },
                },
              },
            },
          },
        },
      ]);
      const [deployed] = await local.deploy(directory);
      await local.runner.warmed();
      const topicArn = deployed?.resources.get('Topic')?.physicalId ?? '';
      const sink = deployed?.resources.get('Sink')?.physicalId ?? '';
      const sns = new SNSClient(local.clientConfig());
      const sqs = new SQSClient(local.clientConfig());

      const publish = (id: string, sleepMs: number) =>
        sns.send(new PublishCommand({ TopicArn: topicArn, Message: JSON.stringify({ id, sleepMs }) }));
      await publish('slow', 4000);
      await sleep(300);
      await publish('fast', 0);
      const delivered = await readSink(sqs, sink, (bodies) => bodies.length >= 2);
      sns.destroy();
      sqs.destroy();

      expect(delivered.map((body) => field(body, 'id'))).toEqual(['fast', 'slow']);
      expect(Number(field(delivered[0], 'at'))).toBeLessThan(Number(field(delivered[1], 'at')));
    });
  });
});

describe('EMF forwarding', SLOW_MACHINE, () => {
  it('puts the metrics of many log lines in a few PutMetricData requests, all stored after settle()', async () => {
    await withLocal(
      { forwardMetrics: true, onRequest: (request) => requests.push(request) },
      async (local) => {
        await deployWindowStack(local, 'speed-emf', 0);
        const cloudwatch = new CloudWatchClient(local.clientConfig());
        const from = new Date(Date.now() - 60_000);

        for (let ping = 1; ping <= 10; ping += 1) await local.invoke('speed-emf-emf', { pings: ping });
        await local.runner.settle();
        const statistics = await cloudwatch.send(
          new GetMetricStatisticsCommand({
            Namespace: 'SpeedLocal',
            MetricName: 'Pings',
            Dimensions: [{ Name: 'service', Value: 'speed' }],
            StartTime: from,
            EndTime: new Date(Date.now() + 60_000),
            Period: 60,
            Statistics: ['Sum'],
          }),
        );
        cloudwatch.destroy();

        expect(statistics.Datapoints?.reduce((sum, point) => sum + (point.Sum ?? 0), 0)).toBe(55);
        const puts = requests.filter((r) => r.service === 'monitoring' && r.operation === 'PutMetricData');
        expect(puts.length).toBeGreaterThanOrEqual(1);
        expect(puts.length).toBeLessThan(10);
      },
    );
  });
});
