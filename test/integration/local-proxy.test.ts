/**
 * The AWS proxy in front of moto: forwards requests unchanged, names their service and operation, and
 * runs DynamoDB requests one at a time (moto does not isolate concurrent transactions).
 */
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsProxy, type ProxiedRequest } from '../../local/aws-proxy.js';
import { awsClientConfig } from '../../local/cloud.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();
const seen: ProxiedRequest[] = [];
let proxy: AwsProxy;
let dynamo: DynamoDBClient;

beforeAll(async () => {
  proxy = await AwsProxy.start({ target: moto.endpoint, onRequest: (request) => seen.push(request) });
  dynamo = new DynamoDBClient(awsClientConfig(proxy.endpoint));
  await dynamo.send(
    new CreateTableCommand({
      TableName: 'counters',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }),
  );
});

afterAll(async () => {
  dynamo?.destroy();
  await proxy?.close();
});

describe('the AWS proxy', () => {
  it('forwards requests to moto and returns its answers unchanged', async () => {
    await dynamo.send(new PutItemCommand({ TableName: 'counters', Item: { pk: { S: 'a' }, n: { N: '7' } } }));

    const direct = new DynamoDBClient(awsClientConfig(moto.endpoint));
    const item = await direct.send(new GetItemCommand({ TableName: 'counters', Key: { pk: { S: 'a' } } }));
    direct.destroy();
    expect(item.Item?.n).toEqual({ N: '7' });
    expect(proxy.target).toBe(moto.endpoint);
  });

  it('names the service and operation of JSON and query protocol requests', async () => {
    const sqs = new SQSClient(awsClientConfig(proxy.endpoint));
    const sns = new SNSClient(awsClientConfig(proxy.endpoint));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'proxied' }));
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
    await sns
      .send(new PublishCommand({ TopicArn: 'arn:aws:sns:us-east-1:123456789012:missing', Message: 'x' }))
      .catch(() => undefined);
    sqs.destroy();
    sns.destroy();

    const names = seen.map((r) => `${r.service}:${r.operation}`);
    expect(names).toContain('dynamodb:PutItem');
    expect(names).toContain('sqs:CreateQueue');
    expect(names).toContain('sqs:GetQueueAttributes');
    expect(names).toContain('sns:Publish');
    const publish = seen.find((r) => r.operation === 'Publish');
    expect(publish?.status).toBeGreaterThanOrEqual(400);
    const put = seen.find((r) => r.operation === 'PutItem');
    expect(put?.requestBytes).toBe(Buffer.byteLength(put?.requestBody ?? ''));
    expect(put?.status).toBe(200);
  });

  it('keeps 20 concurrent transactional count-downs exact', async () => {
    await dynamo.send(
      new PutItemCommand({ TableName: 'counters', Item: { pk: { S: 'c' }, n: { N: '20' } } }),
    );
    const countDown = (i: number) =>
      dynamo.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Update: {
                TableName: 'counters',
                Key: { pk: { S: 'c' } },
                UpdateExpression: 'SET n = n - :one',
                ConditionExpression: 'n > :zero',
                ExpressionAttributeValues: { ':one': { N: '1' }, ':zero': { N: '0' } },
              },
            },
            { Put: { TableName: 'counters', Item: { pk: { S: `done-${i}` } } } },
          ],
        }),
      );

    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => countDown(i)));

    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const item = await dynamo.send(new GetItemCommand({ TableName: 'counters', Key: { pk: { S: 'c' } } }));
    expect(item.Item?.n).toEqual({ N: '0' });
  });
});
