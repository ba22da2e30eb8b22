import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { dynamoDbStatusStore, sqsMessageSender } from '../src/index.js';

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

/**
 * A request handler that answers each HTTP request with the next JSON body of `outputs` and records
 * the JSON body of every request: the SDK's own serializers and deserializers run, nothing leaves
 * the process.
 */
function fakeHttp(outputs: readonly Record<string, unknown>[]) {
  const requests: Record<string, unknown>[] = [];
  const requestHandler = {
    async handle(request: { body?: unknown }) {
      requests.push(JSON.parse(String(request.body)));
      const output = outputs[Math.min(requests.length - 1, outputs.length - 1)] ?? {};
      return {
        response: {
          statusCode: 200,
          headers: { 'content-type': 'application/x-amz-json-1.0' },
          body: new TextEncoder().encode(JSON.stringify(output)),
        },
      };
    },
  };
  return { requests, requestHandler };
}

describe('sqsMessageSender', () => {
  it('sends one SendMessage with the FIFO fields and string attributes', async () => {
    const http = fakeHttp([{ MessageId: 'm-1' }]);
    const client = new SQSClient({
      region: 'us-east-1',
      credentials,
      md5: false,
      requestHandler: http.requestHandler,
    });

    await sqsMessageSender(client).send({
      queueUrl: 'https://sqs.us-east-1.amazonaws.com/1/q.fifo',
      body: '{"a":1}',
      messageGroupId: 'g',
      messageDeduplicationId: 'd',
      messageAttributes: { plugboardInProgressReported: 'true' },
    });

    expect(http.requests).toEqual([
      {
        QueueUrl: 'https://sqs.us-east-1.amazonaws.com/1/q.fifo',
        MessageBody: '{"a":1}',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'd',
        MessageAttributes: { plugboardInProgressReported: { DataType: 'String', StringValue: 'true' } },
      },
    ]);
  });
});

describe('dynamoDbStatusStore', () => {
  it('reads one item with GetItem on the pk/sk key, consistently when asked', async () => {
    const http = fakeHttp([
      { Item: { pk: { S: 'RUN#w#u' }, state: { S: 'Complete' }, attempt: { N: '2' } } },
    ]);
    const client = new DynamoDBClient({
      region: 'us-east-1',
      credentials,
      requestHandler: http.requestHandler,
    });

    const item = await dynamoDbStatusStore(client).getItem({
      tableName: 'status',
      key: { pk: 'RUN#w#u', sk: 'PLUGIN#a#pre#p' },
      consistentRead: true,
    });

    expect(http.requests).toEqual([
      {
        TableName: 'status',
        Key: { pk: { S: 'RUN#w#u' }, sk: { S: 'PLUGIN#a#pre#p' } },
        ConsistentRead: true,
      },
    ]);
    expect(item).toEqual({ pk: 'RUN#w#u', state: 'Complete', attempt: 2 });
  });

  it('queries a sort-key prefix and follows every page', async () => {
    const http = fakeHttp([
      {
        Items: [{ sk: { S: 'PLUGIN#a#pre#one' } }],
        LastEvaluatedKey: { pk: { S: 'RUN#w#u' }, sk: { S: 'PLUGIN#a#pre#one' } },
      },
      { Items: [{ sk: { S: 'PLUGIN#a#pre#two' } }] },
    ]);
    const client = new DynamoDBClient({
      region: 'us-east-1',
      credentials,
      requestHandler: http.requestHandler,
    });

    const items = await dynamoDbStatusStore(client).query({
      tableName: 'status',
      pk: 'RUN#w#u',
      skPrefix: 'PLUGIN#a#',
      consistentRead: false,
    });

    expect(items).toEqual([{ sk: 'PLUGIN#a#pre#one' }, { sk: 'PLUGIN#a#pre#two' }]);
    expect(http.requests).toHaveLength(2);
    expect(http.requests[0]).toMatchObject({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeValues: { ':pk': { S: 'RUN#w#u' }, ':prefix': { S: 'PLUGIN#a#' } },
      ConsistentRead: false,
    });
    expect(http.requests[1]).toMatchObject({
      ExclusiveStartKey: { pk: { S: 'RUN#w#u' }, sk: { S: 'PLUGIN#a#pre#one' } },
    });
  });
});
