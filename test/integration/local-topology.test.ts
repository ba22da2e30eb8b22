import {
  SetSubscriptionAttributesCommand,
  SNSClient,
  SubscribeCommand,
  UnsubscribeCommand,
} from '@aws-sdk/client-sns';
import { CreateQueueCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../../local/index.js';
import { FIXTURE_ASSEMBLY, startLocalCloud } from '../fixtures/local/harness.js';
import { motoClientConfig, useMoto } from '../support/moto.js';

const moto = useMoto();
let local: LocalCloud;
let sns: SNSClient;
let sqs: SQSClient;

function physicalId(stackName: string, logicalId: string): string {
  const resource = local.deployer.stack(stackName)?.resources.get(logicalId);
  if (resource === undefined) throw new Error(`${stackName}/${logicalId} is not deployed`);
  return resource.physicalId;
}

beforeAll(async () => {
  local = await startLocalCloud(moto.endpoint, { scheduleSpeedUp: 1 });
  await local.deploy(FIXTURE_ASSEMBLY);
  sns = new SNSClient(motoClientConfig(moto.endpoint));
  sqs = new SQSClient(motoClientConfig(moto.endpoint));
}, 120_000);

afterAll(async () => {
  await local?.stop();
});

describe('the topology check', () => {
  it('finds no difference between the deployed fixture and its templates', async () => {
    await expect(local.checkTopology()).resolves.toEqual([]);
  });

  it('reports a subscription whose filter policy differs from the template', async () => {
    const subscriptionArn = physicalId('fixture-plugins', 'PluginSubscription');
    await sns.send(
      new SetSubscriptionAttributesCommand({
        SubscriptionArn: subscriptionArn,
        AttributeName: 'FilterPolicy',
        AttributeValue: JSON.stringify({ kind: ['something-else'] }),
      }),
    );

    const differences = await local.checkTopology();

    await sns.send(
      new SetSubscriptionAttributesCommand({
        SubscriptionArn: subscriptionArn,
        AttributeName: 'FilterPolicy',
        AttributeValue: JSON.stringify({ kind: [{ prefix: 'plugin-' }] }),
      }),
    );
    expect(differences).toEqual([
      expect.objectContaining({
        kind: 'subscription',
        problem: 'mismatch',
        resource: 'fixture-plugins/PluginSubscription',
        detail: expect.stringContaining('something-else'),
      }),
    ]);
    await expect(local.checkTopology()).resolves.toEqual([]);
  });

  it("reports a queue whose redrive policy is not the template's", async () => {
    const workQueue = physicalId('fixture-core', 'WorkQueue');
    const deadLetterArn = local.deployer.stack('fixture-core')?.resources.get('WorkDeadLetterQueue')
      ?.attributes.Arn;
    await sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: workQueue,
        Attributes: {
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetterArn, maxReceiveCount: 7 }),
        },
      }),
    );

    const differences = await local.checkTopology();

    await sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: workQueue,
        Attributes: {
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetterArn, maxReceiveCount: 2 }),
        },
      }),
    );
    expect(differences).toEqual([
      expect.objectContaining({
        kind: 'redrive',
        problem: 'mismatch',
        resource: 'fixture-core/WorkQueue',
        detail: expect.stringContaining('"maxReceiveCount":7'),
      }),
    ]);
  });

  it('reports a subscription no template declares, and a declared one that is gone', async () => {
    const topicArn = physicalId('fixture-core', 'EventsTopic');
    const stray = await sqs.send(new CreateQueueCommand({ QueueName: 'topology-stray' }));
    const strayArn = 'arn:aws:sqs:us-east-1:123456789012:topology-stray';
    const extra = await sns.send(
      new SubscribeCommand({
        TopicArn: topicArn,
        Protocol: 'sqs',
        Endpoint: strayArn,
        ReturnSubscriptionArn: true,
      }),
    );
    const recorder = local.runner.snsSubscriptions().find((info) => info.functionName === 'fixture-recorder');
    await sns.send(new UnsubscribeCommand({ SubscriptionArn: recorder?.subscriptionArn }));

    const differences = await local.checkTopology();

    expect(stray.QueueUrl).toBeDefined();
    expect(differences).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'subscription',
          problem: 'unexpected',
          detail: expect.stringContaining(`${topicArn} -> sqs:${strayArn}`),
        }),
        expect.objectContaining({
          kind: 'subscription',
          problem: 'missing',
          resource: 'fixture-core/RecorderSubscription',
        }),
      ]),
    );
    expect(differences).toHaveLength(2);
    await sns.send(new UnsubscribeCommand({ SubscriptionArn: extra.SubscriptionArn }));
  });
});
